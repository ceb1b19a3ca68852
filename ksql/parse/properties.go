package parse

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/sluice-dev/sluice/ksql/internal/suggest"
)

// propKind is the kind of value a WITH property takes.
type propKind uint8

const (
	propString propKind = iota
	propInt
	propBool
)

// createProps are the WITH properties of CREATE STREAM|TABLE (ksqlDB
// 0.28's CommonCreateConfigs and CreateConfigs). Properties are
// case-insensitive; sluice keeps those it does not use (schema ids, full
// names, delimiters, partitions, replicas) so that statements written for
// ksqlDB parse as they are.
var createProps = map[string]propKind{
	"KAFKA_TOPIC": propString, "VALUE_FORMAT": propString, "KEY_FORMAT": propString, "FORMAT": propString,
	"TIMESTAMP": propString, "TIMESTAMP_FORMAT": propString, "PARTITIONS": propInt, "REPLICAS": propInt,
	"WRAP_SINGLE_VALUE": propBool, "KEY_SCHEMA_ID": propInt, "VALUE_SCHEMA_ID": propInt,
	"KEY_SCHEMA_FULL_NAME": propString, "VALUE_SCHEMA_FULL_NAME": propString, "VALUE_AVRO_SCHEMA_FULL_NAME": propString,
	"VALUE_DELIMITER": propString, "KEY_DELIMITER": propString,
	"WINDOW_TYPE": propString, "WINDOW_SIZE": propString, "SOURCE_CONNECTOR": propString,
}

// createAsOnlyNot are the CREATE properties that CREATE … AS SELECT does
// not take (CreateAsConfigs has the common ones only).
var createAsOnlyNot = map[string]bool{"WINDOW_TYPE": true, "WINDOW_SIZE": true, "SOURCE_CONNECTOR": true}

// insertProps are INSERT INTO's WITH properties.
var insertProps = map[string]propKind{"QUERY_ID": propString}

// formats are the key and value formats ksqlDB knows.
var formats = []string{"AVRO", "DELIMITED", "JSON", "JSON_SR", "KAFKA", "NONE", "PROTOBUF", "PROTOBUF_NOSR"}

// checkProps validates props against allowed: a known name (the error
// names the near ones), given once, with a value of its kind; a format a
// known one. Integers may be written as numbers or strings, booleans as
// TRUE/FALSE or strings, as Kafka's ConfigDef parses them.
func checkProps(props []Property, allowed map[string]propKind, except map[string]bool) error {
	seen := map[string]bool{}
	var names []string
	for n := range allowed {
		if !except[n] {
			names = append(names, strings.ToLower(n))
		}
	}
	sort.Strings(names)
	for _, p := range props {
		kind, ok := allowed[p.Name]
		if !ok || except[p.Name] {
			msg := fmt.Sprintf("unknown property '%s'", strings.ToLower(p.Name))
			if near := suggest.Near(p.Name, names, 3); len(near) > 0 {
				msg += " (did you mean " + suggest.Or(near) + "?)"
			} else {
				msg += "; known: " + strings.Join(names, ", ")
			}
			return &Error{Pos: p.Pos, Msg: msg}
		}
		if seen[p.Name] {
			return &Error{Pos: p.Pos, Msg: fmt.Sprintf("property '%s' is given twice", strings.ToLower(p.Name))}
		}
		seen[p.Name] = true
		if err := checkPropValue(p, kind); err != nil {
			return err
		}
	}
	if seen["FORMAT"] && (seen["KEY_FORMAT"] || seen["VALUE_FORMAT"]) {
		return &Error{Pos: props[0].Pos, Msg: "'format' sets both the key and the value format: give either 'format' or 'key_format'/'value_format'"}
	}
	return nil
}

func checkPropValue(p Property, kind propKind) error {
	name := strings.ToLower(p.Name)
	if _, null := p.Value.(*NullLit); null {
		return &Error{Pos: p.Value.Position(), Msg: fmt.Sprintf("property '%s' cannot be NULL", name)}
	}
	switch kind {
	case propInt:
		text := ""
		switch v := p.Value.(type) {
		case *NumberLit:
			text = v.Text
		case *StringLit:
			text = strings.TrimSpace(v.Value)
		}
		if _, err := strconv.ParseInt(text, 10, 32); err != nil {
			return &Error{Pos: p.Value.Position(), Msg: fmt.Sprintf("property '%s' takes an integer, got %s", name, Print(p.Value))}
		}
	case propBool:
		ok := false
		switch v := p.Value.(type) {
		case *BoolLit:
			ok = true
		case *StringLit:
			s := strings.ToLower(strings.TrimSpace(v.Value))
			ok = s == "true" || s == "false"
		}
		if !ok {
			return &Error{Pos: p.Value.Position(), Msg: fmt.Sprintf("property '%s' takes TRUE or FALSE, got %s", name, Print(p.Value))}
		}
	default:
		s, ok := p.Value.(*StringLit)
		if !ok {
			return &Error{Pos: p.Value.Position(), Msg: fmt.Sprintf("property '%s' takes a string in single quotes, got %s", name, Print(p.Value))}
		}
		switch p.Name {
		case "FORMAT", "KEY_FORMAT", "VALUE_FORMAT":
			if !contains(formats, strings.ToUpper(s.Value)) {
				return &Error{Pos: s.Pos, Msg: fmt.Sprintf("unknown format '%s' for '%s'%s; formats: %s", s.Value, name, suggest.Hint(s.Value, formats), strings.Join(formats, ", "))}
			}
		case "WINDOW_TYPE":
			if w := strings.ToUpper(s.Value); w != "SESSION" && w != "HOPPING" && w != "TUMBLING" {
				return &Error{Pos: s.Pos, Msg: fmt.Sprintf("'window_type' is SESSION, HOPPING or TUMBLING, got '%s'", s.Value)}
			}
		case "KAFKA_TOPIC":
			if s.Value == "" {
				return &Error{Pos: s.Pos, Msg: "'kafka_topic' cannot be empty"}
			}
		}
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// PropString returns the value of the property name (upper-case) as text
// ("" and false when absent): a string's value, a number's digits, TRUE or
// FALSE.
func PropString(props []Property, name string) (string, bool) {
	for _, p := range props {
		if p.Name == name {
			switch v := p.Value.(type) {
			case *StringLit:
				return v.Value, true
			case *NumberLit:
				return v.Text, true
			case *BoolLit:
				if v.Value {
					return "true", true
				}
				return "false", true
			}
			return "", true
		}
	}
	return "", false
}

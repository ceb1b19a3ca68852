package mapper

import (
	"errors"
	"fmt"
	"sort"

	"gopkg.in/yaml.v3"

	"github.com/sluice-dev/sluice/component"
	"github.com/sluice-dev/sluice/event"
	"github.com/sluice-dev/sluice/processor/expr"
)

// Config is the map processor's configuration. Every expression reads the
// input event (its columns under their input names); then set columns are
// assigned, renames applied, and drop or keep applied, in that order.
type Config struct {
	// Set assigns columns from expressions, in the order written:
	// {total_cents: "amount * 100", name: "upper(name)"}. Every expression
	// reads the input row. An input column is replaced in place, keeping
	// its type when the result fits it; another name adds a column at the
	// end, typed by the expression: int → bigint, float → double, decimal →
	// numeric, string → text, bool, time → timestamptz, duration →
	// interval, anything else → jsonb.
	Set Assignments `yaml:"set"`
	// Rename renames columns, {old: new}; key columns stay key columns
	// under their new names. Names a table lacks are skipped, so one map
	// can serve several tables.
	Rename map[string]string `yaml:"rename"`
	// Drop removes columns, named as after rename. Dropping a key column is
	// an error. Names a table lacks are skipped.
	Drop []string `yaml:"drop"`
	// Keep keeps only these columns, named as after rename, in this order
	// (a projection); it must list every key column. Names a table lacks
	// are skipped. Keep and drop exclude each other.
	Keep []string `yaml:"keep"`
	// IfColumns limits the map to tables that have every one of these
	// columns; events of other tables pass unchanged (documents of several
	// shapes: Data Prepper's "when the key exists").
	IfColumns []string `yaml:"if_columns"`
	// UnlessColumns limits the map to tables that have none of these
	// columns; events of other tables pass unchanged.
	UnlessColumns []string `yaml:"unless_columns"`

	exprs []*expr.Expr // compiled Set, by Validate
}

// Assignment is one entry of set: a column and the expression that gives
// its value.
type Assignment struct {
	Column string
	Expr   string
	bad    string // why the YAML value is not a mapping of column: expression
}

// Assignments is the set mapping in file order (a Go map would lose the
// order in which new columns are appended). In YAML it is a mapping of
// column: expression.
type Assignments []Assignment

// YAMLShape tells the reference generator (internal/spec) that set is a
// mapping of strings in YAML.
func (Assignments) YAMLShape() any { return map[string]string{} }

// UnmarshalYAML reads a mapping of column: expression. A value that is not
// such a mapping is kept as a mark that Validate reports with the key's
// line (an error here would reach the user as "want a list of ...").
func (a *Assignments) UnmarshalYAML(n *yaml.Node) error {
	*a = nil
	if n.Kind != yaml.MappingNode {
		if n.Tag != "!!null" {
			*a = Assignments{{bad: "must be a mapping of column: expression"}}
		}
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if v.Kind != yaml.ScalarNode || v.Tag == "!!null" {
			*a = Assignments{{bad: fmt.Sprintf("the value of %s must be an expression (a string)", k.Value)}}
			return nil
		}
		*a = append(*a, Assignment{Column: k.Value, Expr: v.Value})
	}
	return nil
}

// DefaultConfig returns the defaults: a map that changes nothing.
func DefaultConfig() *Config { return &Config{} }

// Validate implements component.Validator: expressions compile, and set,
// rename, drop and keep do not contradict each other.
func (c *Config) Validate() []error {
	var errs []error
	add := func(field, msg, hint string) {
		errs = append(errs, &component.FieldError{Field: field, Msg: msg, Hint: hint})
	}
	for _, a := range c.Set {
		if a.bad != "" {
			add("set", a.bad, `e.g. set: {total_cents: "amount * 100"}`)
			return errs
		}
	}
	if len(c.Set) == 0 && len(c.Rename) == 0 && len(c.Drop) == 0 && len(c.Keep) == 0 {
		add("set", "the map changes nothing", "give set:, rename:, drop: or keep:")
	}
	c.exprs = nil
	setCols := map[string]bool{}
	for _, a := range c.Set {
		field := "set." + a.Column
		if a.Column == "" {
			add("set", "a column name is empty", "")
			continue
		}
		setCols[a.Column] = true
		e, err := expr.Compile(field, a.Expr, false)
		if err != nil {
			errs = append(errs, expr.FieldError(err))
			continue
		}
		c.exprs = append(c.exprs, e)
	}
	renamedTo := map[string]string{}
	for _, old := range sortedKeys(c.Rename) {
		nu := c.Rename[old]
		switch {
		case nu == "":
			add("rename."+old, "the new name is empty", "")
		case renamedTo[nu] != "":
			add("rename."+old, fmt.Sprintf("%s and %s are both renamed to %s", renamedTo[nu], old, nu), "give each column its own name")
		case setCols[nu] && c.Rename[nu] == "":
			add("set."+nu, fmt.Sprintf("%s is also the new name of %s (rename)", nu, old), "set "+old+" instead, or drop the rename")
		}
		renamedTo[nu] = old
	}
	if len(c.Drop) > 0 && len(c.Keep) > 0 {
		add("keep", "keep and drop exclude each other", "list the columns to keep, or those to drop")
	}
	for _, d := range c.Drop {
		switch {
		case setCols[d] && c.Rename[d] == "":
			add("drop", fmt.Sprintf("drops %s, which set assigns", d), "remove it from set or from drop")
		case c.Rename[d] != "":
			add("drop", fmt.Sprintf("names %s, which rename turns into %s", d, c.Rename[d]), "drop "+c.Rename[d]+", or remove the rename")
		}
	}
	for _, k := range c.Keep {
		if nu := c.Rename[k]; nu != "" && renamedTo[k] == "" {
			add("keep", fmt.Sprintf("names %s, which rename turns into %s", k, nu), "keep "+nu)
		}
	}
	if dup := duplicate(c.Keep); dup != "" {
		add("keep", "lists "+dup+" twice", "")
	}
	return errs
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func duplicate(names []string) string {
	seen := map[string]bool{}
	for _, n := range names {
		if seen[n] {
			return n
		}
		seen[n] = true
	}
	return ""
}

// CheckSchema checks the map against a table known before the pipeline
// runs (a generator's, or one read by sluice validate): expressions
// compile against its columns, no key column is dropped, no two columns
// get one name. It reports, as *component.FieldError, what would
// otherwise be a record error of every event of that table.
func (c *Config) CheckSchema(s *event.Schema) []error {
	if len(c.exprs) != len(c.Set) {
		return nil // Validate failed; its errors come first
	}
	m, err := New(c, nil)
	if err != nil {
		return nil
	}
	pl := m.newPlan(s)
	if pl.err == nil {
		return nil
	}
	var fe *component.FieldError
	if errors.As(pl.err, &fe) {
		return []error{fe}
	}
	return []error{expr.FieldError(pl.err)}
}

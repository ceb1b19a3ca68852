package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/sluice-dev/sluice/frontdoor/ksqldb"
	"github.com/sluice-dev/sluice/ksql/parse"
)

const sqlUsage = `usage: sluice sql [--server URL] [-f FILE] [--token TOKEN]

Sends ksqlDB statements to a sluice serve (its POST /ksql and
/query-stream, ksqlDB's statement API), from a file or typed at a prompt,
and prints the answers as ksql's CLI does.

  sluice sql -f examples/seed004-ksql.sql            # a script, as RUN SCRIPT
  sluice sql --server https://host:8083 --token "$(cat token)"
  ksql> SET 'auto.offset.reset' = 'earliest';
  ksql> CREATE STREAM customers WITH (kafka_topic = 'customers.public.customers');
  ksql> CREATE TABLE customers_by_key AS SELECT id, LATEST_BY_OFFSET(name) AS name
          FROM customers GROUP BY id EMIT CHANGES;
  ksql> SELECT * FROM customers_by_key WHERE id = '5';
  ksql> SHOW QUERIES;

Statements end with ';' (outside quotes and comments). SET and UNSET are
kept here and sent with every later statement (streamsProperties), as
ksql's CLI does: SET 'auto.offset.reset' = 'earliest' makes later queries
start at the topics' beginning. A SELECT is a pull query (on a table) or,
with EMIT CHANGES, a push query printed until LIMIT rows or Ctrl-C.

With -f the statements run in order and the first failure stops the run:
the statement and the server's message go to standard error, exit 1.
At the prompt a failure is printed and the prompt goes on; exit or quit
(or end of input) leaves.

Flags:`

// cmdSQL runs `sluice sql`.
func cmdSQL(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("sql", flag.ContinueOnError)
	fs.SetOutput(stderr)
	server := fs.String("server", envOr("SLUICE_SERVER", "http://127.0.0.1:8083"), "the sluice serve to talk to ($SLUICE_SERVER)")
	file := fs.String("f", "", "run the statements of this file, in order, and stop at the first failure")
	token := fs.String("token", "", "a bearer token for a server that requires one (default $SLUICE_AUTH_TOKEN)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, sqlUsage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if fs.NArg() != 0 {
		fs.Usage()
		return exitUsage
	}
	if *token == "" {
		*token = os.Getenv("SLUICE_AUTH_TOKEN")
	}
	c := &sqlClient{base: strings.TrimRight(*server, "/"), token: *token, props: map[string]string{}, out: stdout, http: &http.Client{}}
	ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer cancel()
	if *file != "" {
		script, err := os.ReadFile(*file)
		if err != nil {
			fmt.Fprintln(stderr, "sluice sql:", err)
			return exitUsage
		}
		for _, st := range ksqldb.Split(string(script)) {
			if err := c.run(ctx, st.Text); err != nil {
				fmt.Fprintf(stderr, "sluice sql: %s:%d: the statement failed:\n%s\n%s\n", *file, st.Line, st.Text, err)
				return exitFailed
			}
		}
		return exitOK
	}
	return c.prompt(ctx, stdin, stderr)
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

type sqlClient struct {
	base, token string
	props       map[string]string
	out         io.Writer
	http        *http.Client
}

// prompt reads statements line by line until exit, quit or end of input.
func (c *sqlClient) prompt(ctx context.Context, stdin io.Reader, stderr io.Writer) int {
	sc := bufio.NewScanner(stdin)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	var pending strings.Builder
	fmt.Fprint(c.out, "ksql> ")
	for sc.Scan() {
		line := sc.Text()
		if pending.Len() == 0 {
			switch strings.ToLower(strings.TrimRight(strings.TrimSpace(line), ";")) {
			case "exit", "quit":
				return exitOK
			}
		}
		pending.WriteString(line)
		pending.WriteByte('\n')
		stmts := ksqldb.Split(pending.String())
		complete := len(stmts) > 0 && strings.HasSuffix(stmts[len(stmts)-1].Text, ";")
		if !complete {
			if strings.TrimSpace(pending.String()) == "" {
				pending.Reset()
				fmt.Fprint(c.out, "ksql> ")
			} else {
				fmt.Fprint(c.out, ">")
			}
			continue
		}
		pending.Reset()
		for _, st := range stmts {
			if err := c.run(ctx, st.Text); err != nil {
				fmt.Fprintln(stderr, err)
			}
		}
		fmt.Fprint(c.out, "\nksql> ")
	}
	fmt.Fprintln(c.out)
	return exitOK
}

// run sends one statement, or keeps a SET or UNSET.
func (c *sqlClient) run(ctx context.Context, text string) error {
	stmts, err := parse.Parse(text)
	if err == nil && len(stmts) == 1 {
		switch st := stmts[0].(type) {
		case *parse.Set:
			old, had := c.props[st.Name]
			c.props[st.Name] = st.Value
			if had {
				fmt.Fprintf(c.out, "Successfully changed local property '%s' from '%s' to '%s'.\n", st.Name, old, st.Value)
			} else {
				fmt.Fprintf(c.out, "Successfully changed local property '%s' to '%s'. Use the UNSET command to revert your change.\n", st.Name, st.Value)
			}
			return nil
		case *parse.Unset:
			delete(c.props, st.Name)
			fmt.Fprintf(c.out, "Successfully unset local property '%s'.\n", st.Name)
			return nil
		case *parse.Query:
			return c.query(ctx, text)
		}
	}
	// Anything else (and what does not parse here) goes to the server,
	// whose message is the one to show.
	b, _ := json.Marshal(map[string]any{"ksql": text, "streamsProperties": c.props})
	resp, err := c.post(ctx, "/ksql", b)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("reading the answer of %s: %v", c.base, err)
	}
	if resp.StatusCode != http.StatusOK {
		return serverError(resp.StatusCode, body)
	}
	var ents []map[string]any
	if err := json.Unmarshal(body, &ents); err != nil {
		return fmt.Errorf("the answer of %s is not ksqlDB's (HTTP %d): %.200s", c.base, resp.StatusCode, body)
	}
	for _, e := range ents {
		printEntity(c.out, e)
	}
	return nil
}

func (c *sqlClient) post(ctx context.Context, path string, body []byte) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, "POST", c.base+path, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("--server %q: %v", c.base, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("cannot reach %s: %v (hint: is `sluice serve` running there? --server URL)", c.base, err)
	}
	return resp, nil
}

// serverError is the server's message: a ksqlDB error, or Connect's
// (the 401 of an authenticated server).
func serverError(code int, body []byte) error {
	var e struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(body, &e) == nil && e.Message != "" {
		if code == http.StatusUnauthorized {
			return fmt.Errorf("%s (hint: --token TOKEN or $SLUICE_AUTH_TOKEN)", e.Message)
		}
		return errors.New(e.Message)
	}
	return fmt.Errorf("HTTP %d: %.200s", code, body)
}

// query runs a SELECT through /query-stream and prints its rows as a
// table, each row as it comes.
func (c *sqlClient) query(ctx context.Context, text string) error {
	b, _ := json.Marshal(map[string]any{"sql": text, "properties": c.props})
	resp, err := c.post(ctx, "/query-stream", b)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		return serverError(resp.StatusCode, body)
	}
	dec := json.NewDecoder(resp.Body)
	dec.UseNumber()
	var head struct {
		ColumnNames []string `json:"columnNames"`
	}
	if err := dec.Decode(&head); err != nil {
		return fmt.Errorf("the answer of %s is not ksqlDB's: %v", c.base, err)
	}
	line := "+" + strings.Repeat("-", 20*len(head.ColumnNames)) + "+"
	fmt.Fprintln(c.out, line)
	fmt.Fprintln(c.out, "|"+cells(head.ColumnNames)+"|")
	fmt.Fprintln(c.out, line)
	n := 0
	for {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			if errors.Is(err, io.EOF) || ctx.Err() != nil {
				break
			}
			return fmt.Errorf("reading the rows: %v", err)
		}
		var row []any
		if json.Unmarshal(raw, &row) != nil {
			return serverError(http.StatusInternalServerError, raw)
		}
		vals := make([]string, len(row))
		for i, v := range row {
			vals[i] = cellText(v)
		}
		fmt.Fprintln(c.out, "|"+cells(vals)+"|")
		n++
	}
	fmt.Fprintln(c.out, line)
	if ctx.Err() != nil {
		fmt.Fprintln(c.out, "Query terminated")
	} else {
		fmt.Fprintf(c.out, "Query terminated (%d rows)\n", n)
	}
	return nil
}

func cells(vals []string) string {
	var b strings.Builder
	for i, v := range vals {
		if i > 0 {
			b.WriteByte('|')
		}
		fmt.Fprintf(&b, "%-19s", v)
	}
	return b.String()
}

func cellText(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case string:
		return v
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// printEntity prints one /ksql answer as ksql's CLI does: a table.
func printEntity(w io.Writer, e map[string]any) {
	str := func(m map[string]any, k string) string { return cellText(m[k]) }
	list := func(k string) []map[string]any {
		var out []map[string]any
		arr, _ := e[k].([]any)
		for _, x := range arr {
			if m, ok := x.(map[string]any); ok {
				out = append(out, m)
			}
		}
		return out
	}
	var head []string
	var rows [][]string
	switch e["@type"] {
	case "currentStatus":
		st, _ := e["commandStatus"].(map[string]any)
		head, rows = []string{"Message"}, [][]string{{str(st, "message")}}
	case "connector_info":
		info, _ := e["info"].(map[string]any)
		head, rows = []string{"Message"}, [][]string{{"Created connector " + str(info, "name")}}
	case "drop_connector":
		head, rows = []string{"Message"}, [][]string{{"Dropped connector \"" + str(e, "connectorName") + "\""}}
	case "warning_entity":
		head, rows = []string{"Message"}, [][]string{{str(e, "message")}}
	case "streams", "tables":
		k := str(e, "@type")
		head = []string{strings.TrimSuffix(strings.ToUpper(k[:1])+k[1:], "s") + " Name", "Kafka Topic", "Key Format", "Value Format", "Windowed"}
		for _, s := range list(k) {
			rows = append(rows, []string{str(s, "name"), str(s, "topic"), str(s, "keyFormat"), str(s, "valueFormat"), str(s, "isWindowed")})
		}
	case "queries":
		head = []string{"Query ID", "Query Type", "Status", "Sink Name", "Sink Kafka Topic", "Query String"}
		for _, q := range list("queries") {
			sinks, _ := q["sinks"].([]any)
			topics, _ := q["sinkKafkaTopics"].([]any)
			rows = append(rows, []string{str(q, "id"), str(q, "queryType"), str(q, "state"), joinAny(sinks), joinAny(topics), strings.Join(strings.Fields(str(q, "queryString")), " ")})
		}
	case "connector_list":
		head = []string{"Connector Name", "Type", "Class", "Status"}
		for _, c := range list("connectors") {
			rows = append(rows, []string{str(c, "name"), str(c, "type"), str(c, "className"), str(c, "state")})
		}
	case "kafka_topics":
		head = []string{"Kafka Topic", "Partitions", "Partition Replicas"}
		for _, t := range list("topics") {
			rows = append(rows, []string{str(t, "name"), "1", "1"})
		}
	case "properties":
		head = []string{"Property", "Scope", "Value"}
		for _, p := range list("properties") {
			rows = append(rows, []string{str(p, "name"), str(p, "scope"), str(p, "value")})
		}
	case "sourceDescription":
		d, _ := e["sourceDescription"].(map[string]any)
		fmt.Fprintf(w, "\nName                 : %s\n", str(d, "name"))
		head = []string{"Field", "Type"}
		fields, _ := d["fields"].([]any)
		for _, x := range fields {
			f, _ := x.(map[string]any)
			sch, _ := f["schema"].(map[string]any)
			t := str(sch, "type")
			if f["type"] == "KEY" {
				t += " (key)"
			}
			rows = append(rows, []string{str(f, "name"), t})
		}
	default:
		b, _ := json.MarshalIndent(e, "", "  ")
		fmt.Fprintln(w, string(b))
		return
	}
	printTable(w, head, rows)
	if ws, ok := e["warnings"].([]any); ok {
		for _, x := range ws {
			if m, ok := x.(map[string]any); ok {
				fmt.Fprintln(w, "WARNING:", str(m, "message"))
			}
		}
	}
}

func joinAny(xs []any) string {
	var out []string
	for _, x := range xs {
		out = append(out, cellText(x))
	}
	return strings.Join(out, ", ")
}

// printTable prints ksql's CLI's table: a header, a rule, the rows, a
// rule.
func printTable(w io.Writer, head []string, rows [][]string) {
	width := make([]int, len(head))
	for i, h := range head {
		width[i] = len(h)
	}
	for _, r := range rows {
		for i, c := range r {
			if i < len(width) && len(c) > width[i] {
				width[i] = len(c)
			}
		}
	}
	line := func(r []string) string {
		var b strings.Builder
		for i, c := range r {
			if i > 0 {
				b.WriteString(" | ")
			} else {
				b.WriteString(" ")
			}
			if i == len(r)-1 {
				b.WriteString(c)
			} else {
				fmt.Fprintf(&b, "%-*s", width[i], c)
			}
		}
		return strings.TrimRight(b.String(), " ")
	}
	lines := []string{line(head)}
	total := len(lines[0])
	for _, r := range rows {
		lines = append(lines, line(r))
		total = max(total, len(lines[len(lines)-1]))
	}
	// The rules are as long as the longest line.
	rule := strings.Repeat("-", total)
	fmt.Fprintln(w, lines[0])
	fmt.Fprintln(w, rule)
	for _, l := range lines[1:] {
		fmt.Fprintln(w, l)
	}
	fmt.Fprintln(w, rule)
}

package ksqldb

import "strings"

// Statement is one statement of a script: its text (with its closing
// semicolon) and the line it starts on (1-based).
type Statement struct {
	Text string
	Line int
}

// Split cuts a script into statements at the semicolons outside quotes
// ('…', with ” inside), back-quoted identifiers, double-quoted identifiers
// and comments (-- to the end of the line, /* … */), as ksql's CLI does
// for RUN SCRIPT. Comments and blank space between statements are dropped;
// a last statement without a semicolon is kept (the server reports it).
func Split(script string) []Statement {
	var out []Statement
	start, line, startLine := 0, 1, 0
	inStmt := false
	mark := func(i int) {
		if !inStmt {
			inStmt, start, startLine = true, i, line
		}
	}
	for i := 0; i < len(script); i++ {
		c := script[i]
		switch {
		case c == '\n':
			line++
		case c == '-' && i+1 < len(script) && script[i+1] == '-':
			for i < len(script) && script[i] != '\n' {
				i++
			}
			if i < len(script) {
				line++
			}
		case c == '/' && i+1 < len(script) && script[i+1] == '*':
			i += 2
			for i < len(script) && !(script[i] == '*' && i+1 < len(script) && script[i+1] == '/') {
				if script[i] == '\n' {
					line++
				}
				i++
			}
			i++ // the closing '/'
		case c == '\'' || c == '`' || c == '"':
			mark(i)
			for i++; i < len(script); i++ {
				if script[i] == '\n' {
					line++
				}
				if script[i] == c {
					if c == '\'' && i+1 < len(script) && script[i+1] == '\'' {
						i++
						continue
					}
					break
				}
			}
		case c == ';':
			if inStmt {
				out = append(out, Statement{Text: strings.TrimSpace(script[start : i+1]), Line: startLine})
				inStmt = false
			}
		case c == ' ' || c == '\t' || c == '\r':
		default:
			mark(i)
		}
	}
	if inStmt {
		if s := strings.TrimSpace(script[start:]); s != "" {
			out = append(out, Statement{Text: s, Line: startLine})
		}
	}
	return out
}

package parse

import "strings"

// Error is a syntax error at a position of the statement text. Its text
// is "line L:C: message", the message saying what was expected and, where
// one is near, a hint ("did you mean EMIT CHANGES?").
type Error struct {
	Pos Pos
	Msg string
}

func (e *Error) Error() string { return e.Pos.String() + ": " + e.Msg }

// ErrorList is every error of a text, one per statement that failed, in
// order. Its Error joins them with newlines.
type ErrorList []*Error

func (l ErrorList) Error() string {
	parts := make([]string, len(l))
	for i, e := range l {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "\n")
}

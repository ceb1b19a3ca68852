package postgres

import (
	"errors"
	"strings"
)

// copyField is one field of a COPY text line: the unescaped text, or NULL.
type copyField struct {
	s    string
	null bool
}

var errCopyColumns = errors.New("COPY line has the wrong number of fields")

// splitCopyLine splits one line of COPY ... TO STDOUT text format (without
// its trailing newline) into exactly len(dst) fields. Fields without a
// backslash are substrings of line; only escaped fields allocate.
func splitCopyLine(line string, dst []copyField) error {
	if strings.IndexByte(line, '\\') < 0 {
		return splitPlainLine(line, dst)
	}
	n := 0
	for {
		end := strings.IndexByte(line, '\t')
		field := line
		if end >= 0 {
			field = line[:end]
		}
		if n >= len(dst) {
			return errCopyColumns
		}
		switch {
		case len(field) == 2 && field[0] == '\\' && field[1] == 'N':
			dst[n] = copyField{null: true}
		case strings.IndexByte(field, '\\') >= 0:
			s, err := unescapeCopy(field)
			if err != nil {
				return err
			}
			dst[n] = copyField{s: s}
		default:
			dst[n] = copyField{s: field}
		}
		n++
		if end < 0 {
			break
		}
		line = line[end+1:]
	}
	if n != len(dst) {
		return errCopyColumns
	}
	return nil
}

// splitPlainLine is splitCopyLine for a line without a backslash (most
// lines): no field is NULL (\N) or escaped, so each is the text between
// tabs, and one scan of the line for a backslash replaces one per field.
func splitPlainLine(line string, dst []copyField) error {
	for n := range dst {
		end := strings.IndexByte(line, '\t')
		if end < 0 {
			if n != len(dst)-1 {
				return errCopyColumns
			}
			dst[n] = copyField{s: line}
			return nil
		}
		dst[n] = copyField{s: line[:end]}
		line = line[end+1:]
	}
	return errCopyColumns
}

func isOctal(c byte) bool { return c >= '0' && c <= '7' }

// unescapeCopy resolves COPY text escapes: \b \f \n \r \t \v \\, \ooo
// (octal) and \xhh (hex); any other escaped character stands for itself.
func unescapeCopy(f string) (string, error) {
	b := make([]byte, 0, len(f))
	for i := 0; i < len(f); i++ {
		c := f[i]
		if c != '\\' {
			b = append(b, c)
			continue
		}
		i++
		if i >= len(f) {
			return "", errors.New("COPY field ends with a backslash")
		}
		c = f[i]
		switch c {
		case 'b':
			b = append(b, '\b')
		case 'f':
			b = append(b, '\f')
		case 'n':
			b = append(b, '\n')
		case 'r':
			b = append(b, '\r')
		case 't':
			b = append(b, '\t')
		case 'v':
			b = append(b, '\v')
		case 'x':
			if i+1 < len(f) {
				if h, ok := unhex(f[i+1]); ok {
					v := h
					i++
					if i+1 < len(f) {
						if h2, ok := unhex(f[i+1]); ok {
							v = v<<4 | h2
							i++
						}
					}
					b = append(b, v)
					continue
				}
			}
			b = append(b, 'x')
		default:
			if isOctal(c) {
				v := c - '0'
				for k := 0; k < 2 && i+1 < len(f) && isOctal(f[i+1]); k++ {
					i++
					v = v<<3 | (f[i] - '0')
				}
				b = append(b, v)
				continue
			}
			b = append(b, c)
		}
	}
	return string(b), nil
}

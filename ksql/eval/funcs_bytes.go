package eval

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/sluice-dev/sluice/event"
)

// byteCodec is one of the encodings of TO_BYTES, FROM_BYTES and ENCODE.
type byteCodec struct {
	decode func(string) ([]byte, error) // text → bytes
	encode func([]byte) string          // bytes → text
}

var byteCodecs = map[string]byteCodec{
	"hex": {
		decode: func(s string) ([]byte, error) {
			b, err := hex.DecodeString(s)
			if err != nil {
				return nil, fmt.Errorf("%q is not hexadecimal", s)
			}
			return b, nil
		},
		encode: func(b []byte) string { return strings.ToUpper(hex.EncodeToString(b)) },
	},
	"utf8": {
		decode: func(s string) ([]byte, error) { return []byte(s), nil },
		encode: func(b []byte) string { return strings.ToValidUTF8(string(b), "\uFFFD") },
	},
	"ascii": {
		decode: func(s string) ([]byte, error) { // Java replaces what ASCII cannot hold with '?'
			out := make([]byte, 0, len(s))
			for _, r := range s {
				if r >= utf8.RuneSelf {
					r = '?'
				}
				out = append(out, byte(r))
			}
			return out, nil
		},
		encode: func(b []byte) string {
			var sb strings.Builder
			for _, c := range b {
				if c >= utf8.RuneSelf {
					sb.WriteRune('\uFFFD')
				} else {
					sb.WriteByte(c)
				}
			}
			return sb.String()
		},
	},
	"base64": {
		decode: func(s string) ([]byte, error) { // padding optional, as Java's decoder
			b, err := base64.RawStdEncoding.DecodeString(strings.TrimRight(s, "="))
			if err != nil {
				return nil, fmt.Errorf("%q is not base64", s)
			}
			return b, nil
		},
		encode: func(b []byte) string { return base64.StdEncoding.EncodeToString(b) },
	},
}

func codecFor(name string) (byteCodec, error) {
	c, ok := byteCodecs[strings.ToLower(name)]
	if !ok {
		return byteCodec{}, fmt.Errorf("unknown encoding %q: the encodings are 'hex', 'utf8', 'ascii' and 'base64'", name)
	}
	return c, nil
}

// codecArg resolves the encoding argument i at compile time when it is a
// constant (a bad name fails the query), else per row.
func codecArg(c *callSite, i int) (func(a []event.Value) (byteCodec, error), error) {
	if i < len(c.lits) && c.lits[i] != nil && c.lits[i].Kind != event.KindNull {
		bc, err := codecFor(c.lits[i].Str)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", c.name, err)
		}
		return func([]event.Value) (byteCodec, error) { return bc, nil }, nil
	}
	return func(a []event.Value) (byteCodec, error) {
		bc, err := codecFor(a[i].Str)
		if err != nil {
			return byteCodec{}, fmt.Errorf("%s: %w", c.name, err)
		}
		return bc, nil
	}, nil
}

func toBytesFunc(c *callSite) (callFn, error) {
	codec, err := codecArg(c, 1)
	if err != nil {
		return nil, err
	}
	return func(a []event.Value) (event.Value, error) {
		bc, err := codec(a)
		if err != nil {
			return event.Null, err
		}
		b, err := bc.decode(a[0].Str)
		if err != nil {
			return event.Null, fmt.Errorf("%s: %w", c.name, err)
		}
		return bytesValue(string(b)), nil
	}, nil
}

func fromBytesFunc(c *callSite) (callFn, error) {
	codec, err := codecArg(c, 1)
	if err != nil {
		return nil, err
	}
	return func(a []event.Value) (event.Value, error) {
		bc, err := codec(a)
		if err != nil {
			return event.Null, err
		}
		return event.String(bc.encode([]byte(a[0].Str))), nil
	}, nil
}

// encodeFunc is ENCODE(string, inputEncoding, outputEncoding): hex input
// may carry a 0x prefix or X'…' quotes; hex output is lower case.
func encodeFunc(c *callSite) (callFn, error) {
	in, err := codecArg(c, 1)
	if err != nil {
		return nil, err
	}
	out, err := codecArg(c, 2)
	if err != nil {
		return nil, err
	}
	return func(a []event.Value) (event.Value, error) {
		ic, err := in(a)
		if err != nil {
			return event.Null, err
		}
		oc, err := out(a)
		if err != nil {
			return event.Null, err
		}
		s := a[0].Str
		if strings.EqualFold(a[1].Str, "hex") {
			s = hexStrip(s)
		}
		b, err := ic.decode(s)
		if err != nil {
			return event.Null, fmt.Errorf("%s: %w", c.name, err)
		}
		r := oc.encode(b)
		if strings.EqualFold(a[2].Str, "hex") {
			r = strings.ToLower(r)
		}
		return event.String(r), nil
	}, nil
}

// hexStrip removes a 0x prefix (padding an odd length with a 0) or X'…'.
func hexStrip(s string) string {
	switch {
	case strings.HasPrefix(s, "0x"):
		if len(s)%2 != 0 {
			return "0" + s[2:]
		}
		return s[2:]
	case len(s) >= 3 && (s[0] == 'x' || s[0] == 'X') && s[1] == '\'' && s[len(s)-1] == '\'':
		return s[2 : len(s)-1]
	}
	return s
}

package webhook

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"unicode/utf8"
)

// This file holds a validating JSON scanner that pulls a few members out of a body
// without building maps or unmarshalling the whole document. It accepts exactly what
// encoding/json's Valid accepts (the fuzz tests hold it to that), and it matches member
// names exactly; a repeated member counts by its last occurrence, as encoding/json does.

// maxDepth is the deepest nesting accepted, the same limit as encoding/json.
const maxDepth = 10000

var (
	errJSONSyntax    = errors.New("body is not valid JSON")
	errJSONNotObject = errors.New("body is not a JSON object")
	errJSONDepth     = errors.New("body nests JSON deeper than 10000 levels")
)

// jsonKind is the kind of a captured value.
type jsonKind uint8

const (
	jsonAbsent jsonKind = iota // member not present
	jsonString
	jsonNumber
	jsonNull
	jsonOther // object, array, true or false
)

// jsonValue is a captured member value: its kind and its bytes in the body (for a
// string, with the quotes). slow is set for a string that has escapes or non-ASCII
// bytes and so cannot be used as its raw bytes.
type jsonValue struct {
	kind       jsonKind
	slow       bool
	start, end int
}

// maxQueryKeys is how many top-level members one query can capture.
const maxQueryKeys = 4

// jsonQuery names the members to capture: up to maxQueryKeys top-level members, and
// member inner[0] of the top-level object member obj (Slack's event.type).
type jsonQuery struct {
	keys  [maxQueryKeys]string // "" = unused
	obj   string
	inner [1]string
}

// jsonResult holds the captures of a query: vals[i] for keys[i], nested for obj.inner.
type jsonResult struct {
	vals   [maxQueryKeys]jsonValue
	nested [1]jsonValue
}

// scanObject validates body as a JSON object and captures the members q names.
func scanObject(body []byte, q *jsonQuery, r *jsonResult) error {
	*r = jsonResult{}
	i := skipSpace(body, 0)
	if i >= len(body) {
		return errJSONSyntax
	}
	if body[i] != '{' {
		// Tell "valid but not an object" from "not JSON".
		end, err := skipValue(body, i, 0)
		if err != nil {
			return err
		}
		if skipSpace(body, end) != len(body) {
			return errJSONSyntax
		}
		return errJSONNotObject
	}
	i, err := scanMembers(body, i, 1, q.keys[:], r.vals[:], q, r.nested[:])
	if err != nil {
		return err
	}
	if skipSpace(body, i) != len(body) {
		return errJSONSyntax
	}
	return nil
}

// scanMembers scans the object that starts at body[i] ('{'), nested depth levels deep
// (the object itself counted), capturing keys[k] into out[k]. When q is not nil, the
// member q.obj, if it is an object, has its member q.inner[0] captured into nested[0].
// It returns the index just after the closing brace.
func scanMembers(body []byte, i, depth int, keys []string, out []jsonValue, q *jsonQuery, nested []jsonValue) (int, error) {
	if depth > maxDepth {
		return 0, errJSONDepth
	}
	i = skipSpace(body, i+1)
	if i < len(body) && body[i] == '}' {
		return i + 1, nil
	}
	for {
		if i >= len(body) || body[i] != '"' {
			return 0, errJSONSyntax
		}
		ks := i
		ke, slow, err := skipString(body, i)
		if err != nil {
			return 0, err
		}
		i = skipSpace(body, ke)
		if i >= len(body) || body[i] != ':' {
			return 0, errJSONSyntax
		}
		i = skipSpace(body, i+1)
		if i >= len(body) {
			return 0, errJSONSyntax
		}
		vs := i
		if q != nil && q.obj != "" && keyIs(body[ks:ke], slow, q.obj) {
			nested[0] = jsonValue{}
			if body[i] == '{' {
				i, err = scanMembers(body, i, depth+1, q.inner[:], nested, nil, nil)
			} else {
				i, err = skipValue(body, i, depth)
			}
		} else {
			i, err = skipValue(body, i, depth)
		}
		if err != nil {
			return 0, err
		}
		for k, key := range keys {
			if key != "" && keyIs(body[ks:ke], slow, key) {
				out[k] = valueAt(body, vs, i)
			}
		}
		i = skipSpace(body, i)
		if i >= len(body) {
			return 0, errJSONSyntax
		}
		switch body[i] {
		case ',':
			i = skipSpace(body, i+1)
		case '}':
			return i + 1, nil
		default:
			return 0, errJSONSyntax
		}
	}
}

// valueAt describes the already validated value in body[start:end].
func valueAt(body []byte, start, end int) jsonValue {
	v := jsonValue{start: start, end: end}
	switch c := body[start]; {
	case c == '"':
		v.kind = jsonString
		for _, b := range body[start+1 : end-1] {
			if b == '\\' || b >= utf8.RuneSelf {
				v.slow = true
				break
			}
		}
	case c == '-' || ('0' <= c && c <= '9'):
		v.kind = jsonNumber
	case c == 'n':
		v.kind = jsonNull
	default:
		v.kind = jsonOther
	}
	return v
}

// keyIs reports whether the quoted member name raw equals name.
func keyIs(raw []byte, slow bool, name string) bool {
	if !slow {
		return len(raw) == len(name)+2 && string(raw[1:len(raw)-1]) == name
	}
	s, ok := unquote(raw)
	return ok && s == name
}

// text returns a captured string or number as Go text; ok is false for other kinds.
func (v jsonValue) text(body []byte, numberOK bool) (string, bool) {
	switch v.kind {
	case jsonString:
		raw := body[v.start:v.end]
		if !v.slow || (utf8.Valid(raw) && !containsBackslash(raw)) {
			return string(raw[1 : len(raw)-1]), true
		}
		return unquote(raw)
	case jsonNumber:
		if numberOK {
			return string(body[v.start:v.end]), true
		}
	}
	return "", false
}

// is reports whether v is the string s, without allocating in the common case.
func (v jsonValue) is(body []byte, s string) bool {
	if v.kind != jsonString {
		return false
	}
	if !v.slow {
		return string(body[v.start+1:v.end-1]) == s
	}
	t, ok := unquote(body[v.start:v.end])
	return ok && t == s
}

// unquote decodes a JSON string with escapes or non-ASCII bytes as encoding/json does
// (invalid UTF-8 becomes U+FFFD).
func unquote(raw []byte) (string, bool) {
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

func containsBackslash(b []byte) bool {
	for _, c := range b {
		if c == '\\' {
			return true
		}
	}
	return false
}

func skipSpace(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// Classes of string bytes.
const (
	strPlain    = iota // printable ASCII other than quote and backslash
	strSpecial         // quote, backslash or a control character: ends the fast loop
	strNonASCII        // part of a multi-byte character: the string needs care to convert
)

var strClass = func() (t [256]uint8) {
	for c := 0; c < 0x20; c++ {
		t[c] = strSpecial
	}
	t['"'], t['\\'] = strSpecial, strSpecial
	for c := 0x80; c < 0x100; c++ {
		t[c] = strNonASCII
	}
	return t
}()

// skipString validates the string that starts at b[i] ('"') and returns the index
// after its closing quote, and whether it holds escapes or non-ASCII bytes.
func skipString(b []byte, i int) (end int, slow bool, err error) {
	i++
	for {
		// Eight bytes at a time while none of them needs a look.
		for i+8 <= len(b) && plain8(b[i:i+8]) {
			i += 8
		}
		for i < len(b) && strClass[b[i]] == strPlain {
			i++
		}
		if i >= len(b) {
			return 0, false, errJSONSyntax
		}
		switch c := b[i]; {
		case c >= utf8.RuneSelf:
			slow = true
			i++
		case c == '"':
			return i + 1, slow, nil
		case c == '\\':
			slow = true
			if i+1 >= len(b) {
				return 0, false, errJSONSyntax
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(b) {
					return 0, false, errJSONSyntax
				}
				for _, c := range b[i+2 : i+6] {
					if hexVal[c] > 0xf {
						return 0, false, errJSONSyntax
					}
				}
				i += 6
			default:
				return 0, false, errJSONSyntax
			}
		default: // control character
			return 0, false, errJSONSyntax
		}
	}
}

// plain8 reports whether all eight bytes of b are plain string bytes: ASCII, not a
// control character, not a quote or a backslash. It tests them at once, with the
// usual "has a zero byte" bit trick.
func plain8(b []byte) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	x := binary.LittleEndian.Uint64(b)
	hasZero := func(v uint64) uint64 { return (v - ones) &^ v & highs }
	special := hasZero(x^(ones*'"')) | hasZero(x^(ones*'\\')) | (x-ones*0x20)&^x&highs | x&highs
	return special == 0
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// skipNumber validates the number that starts at b[i] and returns the index after it.
func skipNumber(b []byte, i int) (int, error) {
	if b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && '1' <= b[i] && b[i] <= '9':
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	default:
		return 0, errJSONSyntax
	}
	if i < len(b) && b[i] == '.' {
		i++
		if i >= len(b) || !isDigit(b[i]) {
			return 0, errJSONSyntax
		}
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || !isDigit(b[i]) {
			return 0, errJSONSyntax
		}
		for i < len(b) && isDigit(b[i]) {
			i++
		}
	}
	return i, nil
}

func skipLiteral(b []byte, i int, lit string) (int, error) {
	if len(b)-i < len(lit) || string(b[i:i+len(lit)]) != lit {
		return 0, errJSONSyntax
	}
	return i + len(lit), nil
}

// skipValue validates the value that starts at b[i] (no leading space) inside
// containers depth levels deep and returns the index after it. It is iterative: a
// bit per level (1 object, 0 array) records what each open container is.
func skipValue(b []byte, i, depth int) (int, error) {
	base := depth
	var small uint64  // levels 0..63 above base
	var deep []uint64 // levels from 64 on, allocated only for bodies that deep
	var err error
	for {
		// A value starts at b[i].
		if i >= len(b) {
			return 0, errJSONSyntax
		}
		switch c := b[i]; c {
		case '{', '[':
			depth++
			if depth > maxDepth {
				return 0, errJSONDepth
			}
			level := depth - base - 1
			obj := c == '{'
			if level < 64 {
				if obj {
					small |= 1 << level
				} else {
					small &^= 1 << level
				}
			} else {
				w := level/64 - 1
				for len(deep) <= w {
					deep = append(deep, 0)
				}
				if obj {
					deep[w] |= 1 << (level % 64)
				} else {
					deep[w] &^= 1 << (level % 64)
				}
			}
			i = skipSpace(b, i+1)
			if i < len(b) && ((obj && b[i] == '}') || (!obj && b[i] == ']')) {
				i++
				depth--
			} else if obj {
				if i, err = skipKey(b, i); err != nil {
					return 0, err
				}
				continue
			} else {
				continue
			}
		case '"':
			if i, _, err = skipString(b, i); err != nil {
				return 0, err
			}
		case 't':
			if i, err = skipLiteral(b, i, "true"); err != nil {
				return 0, err
			}
		case 'f':
			if i, err = skipLiteral(b, i, "false"); err != nil {
				return 0, err
			}
		case 'n':
			if i, err = skipLiteral(b, i, "null"); err != nil {
				return 0, err
			}
		default:
			if c != '-' && !isDigit(c) {
				return 0, errJSONSyntax
			}
			if i, err = skipNumber(b, i); err != nil {
				return 0, err
			}
		}
		// After a value: close containers or move to the next element.
		for {
			if depth == base {
				return i, nil
			}
			i = skipSpace(b, i)
			if i >= len(b) {
				return 0, errJSONSyntax
			}
			level := depth - base - 1
			var obj bool
			if level < 64 {
				obj = small&(1<<level) != 0
			} else {
				obj = deep[level/64-1]&(1<<(level%64)) != 0
			}
			c := b[i]
			if c == ',' {
				i = skipSpace(b, i+1)
				if obj {
					if i, err = skipKey(b, i); err != nil {
						return 0, err
					}
				}
				break
			}
			if (obj && c == '}') || (!obj && c == ']') {
				i++
				depth--
				continue
			}
			return 0, errJSONSyntax
		}
	}
}

// skipKey validates `"name" :` at b[i] and returns the index of the value after it.
func skipKey(b []byte, i int) (int, error) {
	if i >= len(b) || b[i] != '"' {
		return 0, errJSONSyntax
	}
	i, _, err := skipString(b, i)
	if err != nil {
		return 0, err
	}
	i = skipSpace(b, i)
	if i >= len(b) || b[i] != ':' {
		return 0, errJSONSyntax
	}
	return skipSpace(b, i+1), nil
}

package route

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math/big"
	"slices"
	"strings"
)

// Filter is a route's content filter: conditions on fields of the JSON body, all of
// which must hold. In TENAZ_ROUTES it is an object whose keys are dotted paths into
// the body ("data.object.currency") and whose values are either a JSON scalar
// (string, number, boolean or null: the field must equal it) or an object with one
// operator:
//
//	{"exists": true}              the field is present (false: absent)
//	{"pattern": "invoice.*"}      the field is a string matching the pattern ('*' is any run)
//	{"anyOf": ["eur", "usd"]}     the field equals one of the scalars
//
// Numbers compare by value (1 equals 1.0 and 1e0). A path names object members
// only (no array indexes), and a member whose name holds a '.' cannot be named.
// A body that is not a JSON object satisfies no condition (only "exists": false).
type Filter struct {
	conds []condition
}

type condition struct {
	field   string   // as configured, for messages
	path    []string // field split on '.'
	op      string   // opEqual, opExists, opPattern or opAnyOf
	values  []any    // opEqual: one scalar; opAnyOf: the scalars
	exists  bool     // opExists
	pattern string   // opPattern
}

const (
	opEqual   = "equal"
	opExists  = "exists"
	opPattern = "pattern"
	opAnyOf   = "anyOf"
)

// ParseFilter compiles a filter as TENAZ_ROUTES writes it. An empty filter, an
// empty path segment, an unknown operator, or a value that is an array or a plain
// object is an error.
func ParseFilter(raw map[string]json.RawMessage) (*Filter, error) {
	if len(raw) == 0 {
		return nil, errors.New("filter: empty; leave it out to take every event")
	}
	f := &Filter{}
	for _, field := range slices.Sorted(maps.Keys(raw)) {
		c, err := parseCondition(field, raw[field])
		if err != nil {
			return nil, fmt.Errorf("filter %q: %w", field, err)
		}
		f.conds = append(f.conds, c)
	}
	return f, nil
}

func parseCondition(field string, raw json.RawMessage) (condition, error) {
	c := condition{field: field, path: strings.Split(field, ".")}
	if slices.Contains(c.path, "") {
		return c, errors.New("a path of dot-separated member names, none empty")
	}
	v, err := decode(raw)
	if err != nil {
		return c, err
	}
	switch v := v.(type) {
	case map[string]any:
		if len(v) != 1 {
			return c, errors.New(`an operator object holds exactly one of "exists", "pattern", "anyOf"`)
		}
		for op, arg := range v {
			switch op {
			case opExists:
				b, ok := arg.(bool)
				if !ok {
					return c, errors.New(`"exists" takes true or false`)
				}
				c.op, c.exists = opExists, b
			case opPattern:
				s, ok := arg.(string)
				if !ok || s == "" {
					return c, errors.New(`"pattern" takes a non-empty string`)
				}
				c.op, c.pattern = opPattern, s
			case opAnyOf:
				list, ok := arg.([]any)
				if !ok || len(list) == 0 {
					return c, errors.New(`"anyOf" takes a non-empty array of scalars`)
				}
				for _, x := range list {
					if !scalar(x) {
						return c, errors.New(`"anyOf" takes strings, numbers, booleans or null`)
					}
				}
				c.op, c.values = opAnyOf, list
			default:
				return c, fmt.Errorf(`unknown operator %q (want "exists", "pattern" or "anyOf")`, op)
			}
		}
	case []any:
		return c, errors.New(`a value is a scalar or an operator object; for a set of values use {"anyOf": [...]}`)
	default:
		c.op, c.values = opEqual, []any{v}
	}
	return c, nil
}

// Accepts reports whether body satisfies every condition. A nil Filter accepts
// everything.
func (f *Filter) Accepts(body []byte) bool {
	if f == nil {
		return true
	}
	doc, err := decode(body)
	obj, _ := doc.(map[string]any)
	if err != nil {
		obj = nil
	}
	for _, c := range f.conds {
		if !c.holds(obj) {
			return false
		}
	}
	return true
}

func (c *condition) holds(obj map[string]any) bool {
	v, found := lookup(obj, c.path)
	switch c.op {
	case opExists:
		return found == c.exists
	case opPattern:
		s, ok := v.(string)
		return found && ok && Match(c.pattern, s)
	default: // opEqual, opAnyOf
		if !found {
			return false
		}
		for _, want := range c.values {
			if equal(v, want) {
				return true
			}
		}
		return false
	}
}

func lookup(obj map[string]any, path []string) (any, bool) {
	var cur any = obj
	for _, name := range path {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[name]; !ok {
			return nil, false
		}
	}
	return cur, obj != nil
}

// equal compares two decoded JSON scalars; numbers by value.
func equal(a, b any) bool {
	switch a := a.(type) {
	case json.Number:
		b, ok := b.(json.Number)
		if !ok {
			return false
		}
		x, okx := new(big.Rat).SetString(a.String())
		y, oky := new(big.Rat).SetString(b.String())
		return okx && oky && x.Cmp(y) == 0
	case string, bool, nil:
		return a == b
	default:
		return false
	}
}

func scalar(v any) bool {
	switch v.(type) {
	case string, bool, json.Number, nil:
		return true
	}
	return false
}

// decode reads one JSON value, numbers as json.Number; trailing data is an error.
func decode(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, errors.New("trailing data after the JSON value")
	}
	return v, nil
}

package webhook

import "encoding/json"

// This file reads members of a verified JSON body for the spec schemes, with
// encoding/json: member names match exactly and the last of repeated members wins.

// doc is a parsed JSON object body, members by exact name (the last of repeated
// members wins, as encoding/json does).
type doc map[string]json.RawMessage

func parseDoc(body []byte) (doc, *Error) {
	var d doc
	if err := json.Unmarshal(body, &d); err != nil || d == nil {
		if json.Valid(body) {
			return nil, errMalformed(errJSONNotObject.Error())
		}
		return nil, errMalformed(errJSONSyntax.Error())
	}
	return d, nil
}

// raw returns the member at path, following nested objects.
func (d doc) raw(path []string) (json.RawMessage, bool) {
	cur := d
	for i, name := range path {
		v, ok := cur[name]
		if !ok {
			return nil, false
		}
		if i == len(path)-1 {
			return v, true
		}
		cur = nil
		if json.Unmarshal(v, &cur) != nil || cur == nil {
			return nil, false
		}
	}
	return nil, false
}

// text returns the string (or, when numberOK, number) at path.
func (d doc) text(path []string, numberOK bool) (string, bool) {
	v, ok := d.raw(path)
	if !ok || len(v) == 0 {
		return "", false
	}
	switch c := v[0]; {
	case c == '"':
		var s string
		if json.Unmarshal(v, &s) != nil {
			return "", false
		}
		return s, true
	case numberOK && (c == '-' || '0' <= c && c <= '9'):
		return string(v), true
	}
	return "", false
}

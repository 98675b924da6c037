package webhook

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// slackQuery is the richest query a scheme makes: three members and one nested.
var slackQuery = jsonQuery{keys: [maxQueryKeys]string{"event_id", "type", "challenge", "id"}, obj: "event", inner: [1]string{"type"}}

// oracleScan answers what scanObject must, with encoding/json.
func oracleScan(body []byte, q *jsonQuery) (vals [maxQueryKeys + 1]string, ok [maxQueryKeys + 1]bool, valid bool) {
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if !json.Valid(body) || len(trimmed) == 0 || trimmed[0] != '{' {
		return vals, ok, false
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil {
		panic("valid JSON object did not decode: " + err.Error())
	}
	text := func(raw json.RawMessage) (string, bool) {
		if len(raw) == 0 {
			return "", false
		}
		switch c := raw[0]; {
		case c == '"':
			var s string
			if json.Unmarshal(raw, &s) != nil {
				return "", false
			}
			return s, true
		case c == '-' || ('0' <= c && c <= '9'):
			return string(raw), true
		}
		return "", false
	}
	for i, k := range q.keys {
		if k != "" {
			vals[i], ok[i] = text(top[k])
		}
	}
	if raw := top[q.obj]; len(raw) > 0 && raw[0] == '{' {
		var inner map[string]json.RawMessage
		if err := json.Unmarshal(raw, &inner); err != nil {
			panic(err)
		}
		vals[maxQueryKeys], ok[maxQueryKeys] = text(inner[q.inner[0]])
	}
	return vals, ok, true
}

// checkScan compares scanObject with the oracle on body.
func checkScan(t *testing.T, body []byte) {
	t.Helper()
	var r jsonResult
	err := scanObject(body, &slackQuery, &r)
	wantVals, wantOK, valid := oracleScan(body, &slackQuery)
	if (err == nil) != valid {
		t.Fatalf("scanObject(%q) error = %v, encoding/json says valid object = %v", body, err, valid)
	}
	if err != nil {
		return
	}
	got := append(r.vals[:], r.nested[0])
	for i := range got {
		s, ok := got[i].text(body, true)
		if ok != wantOK[i] || s != wantVals[i] {
			t.Errorf("scanObject(%q) value %d = %q %v, encoding/json gives %q %v", body, i, s, ok, wantVals[i], wantOK[i])
		}
	}
}

func TestScanObject(t *testing.T) {
	t.Parallel()
	bodies := []string{
		`{}`, ` { } `, `{"event_id":"Ev1","type":"t","event":{"type":"n"}}`,
		`{"type":"a","type":"b"}`, `{"event":{"type":"a"},"event":[1]}`, `{"event":{"type":"a"},"event":{}}`,
		`{"id":-0.5e+10}`, `{"id":0}`, `{"id":01}`, `{"id":1.}`, `{"id":.5}`, `{"id":-}`, `{"id":1e}`, `{"id":+1}`,
		`{"id":"\ud83d\ude00"}`, `{"id":"\ud800"}`, `{"id":"\u00e9"}`, `{"id":"a\/b\\c\"d"}`, `{"id":"\x"}`, `{"id":"\u12"}`,
		"{\"id\":\"\xff\xfe\"}", "{\"\xffid\":\"x\"}", "{\"id\":\"a\tb\"}", "{\"id\":\"\x7f\"}",
		`{"id":true}`, `{"id":false}`, `{"id":null}`, `{"id":nul}`, `{"id":[1,2,{"a":[]}]}`, `{"id":{"x":{"y":[[]]}}}`,
		`{"id":"a",}`, `{"id":"a" "b"}`, `{"id" "a"}`, `{,}`, `{"a":1,,"b":2}`, `{"a":[1,]}`, `{"a":[,1]}`, `{"a":{"b"}}`,
		`{"a":[1 2]}`, `{"a":{"b":1 "c":2}}`, `{"a":{1:2}}`, `{"a":1}}`, `{"a":[1]]}`, `{"a":{]}`, `{"a":[}`,
		``, ` `, `[]`, `"x"`, `1`, `null`, `{`, `}`, `{"a"`, `{"a":`, `{"a":1`, `{"a":"`, `{"a":"\`, `{} x`, `{}{}`,
		`{"\u0065vent_id":"E","\u0074ype":"T"}`, `{"event":{"\u0074ype":"N"}}`,
		`{"challenge":"c","type":"url_verification"}`,
		`{"a":` + strings.Repeat(`[`, 9998) + strings.Repeat(`]`, 9998) + `}`,
		`{"a":` + strings.Repeat(`[`, 9999) + strings.Repeat(`]`, 9999) + `}`,
		`{"a":` + strings.Repeat(`{"a":`, 100) + `1` + strings.Repeat(`}`, 100) + `}`,
		`{"event":` + strings.Repeat(`[`, 9999) + strings.Repeat(`]`, 9999) + `}`,
		`{"event":{"a":` + strings.Repeat(`[`, 9998) + strings.Repeat(`]`, 9998) + `}}`,
		`{"event":{"a":` + strings.Repeat(`[`, 9997) + strings.Repeat(`]`, 9997) + `}}`,
	}
	for _, b := range bodies {
		checkScan(t, []byte(b))
	}
}

func TestScanObjectErrors(t *testing.T) {
	t.Parallel()
	var r jsonResult
	for body, want := range map[string]error{
		`[1]`:  errJSONNotObject,
		`"id"`: errJSONNotObject,
		`[1`:   errJSONSyntax,
		`{"a":` + strings.Repeat(`[`, 10000) + strings.Repeat(`]`, 10000) + `}`: errJSONDepth,
	} {
		if err := scanObject([]byte(body), &slackQuery, &r); !errors.Is(err, want) {
			t.Errorf("scanObject(%.20q…) = %v, want %v", body, err, want)
		}
	}
}

func FuzzScanObject(f *testing.F) {
	for _, s := range []string{
		`{"event_id":"Ev1","type":"event_callback","event":{"type":"app_mention"}}`,
		`{"type":"url_verification","challenge":"abc"}`,
		`{"id":"evt_1","object":"event","type":"invoice.paid","data":{"object":{"amount":100,"tags":[1,2.5e3,-0,true,null]}}}`,
		`{"id":12345,"type":"\u0041\n"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		checkScan(t, body)
	})
}

// TestPlain8 checks the eight-byte test against the byte table for every byte value
// at every position, on plain neighbours of every kind.
func TestPlain8(t *testing.T) {
	t.Parallel()
	for _, fill := range []byte{' ', '!', '#', '[', ']', '0', 'a', '~', 0x7f} {
		for pos := 0; pos < 8; pos++ {
			for c := 0; c < 256; c++ {
				b := bytes.Repeat([]byte{fill}, 8)
				b[pos] = byte(c)
				want := true
				for _, x := range b {
					want = want && strClass[x] == strPlain
				}
				if got := plain8(b); got != want {
					t.Fatalf("plain8(%q) = %v, want %v", b, got, want)
				}
			}
		}
	}
}

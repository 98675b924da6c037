package envelope

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func sample() *Envelope {
	return &Envelope{
		Source:     "stripe",
		ID:         "evt_1",
		Type:       "payment_intent.succeeded",
		ReceivedAt: time.Date(2026, 11, 1, 12, 0, 0, 123e6, time.UTC),
		Headers:    map[string]string{"content-type": "application/json"},
		Body:       []byte("{\n  \"id\": \"evt_1\", \"amount\": 100 }\n"),
	}
}

// sameEnvelope says how a and b differ, or "" when they are the same (nil and empty
// header maps differ, and a body must not be nil).
func sameEnvelope(a, b *Envelope) string {
	switch {
	case a.Source != b.Source || a.ID != b.ID || a.Type != b.Type:
		return fmt.Sprintf("names %q %q %q vs %q %q %q", a.Source, a.ID, a.Type, b.Source, b.ID, b.Type)
	case !a.ReceivedAt.Equal(b.ReceivedAt) || a.ReceivedAt.String() != b.ReceivedAt.String():
		return fmt.Sprintf("receivedAt %v vs %v", a.ReceivedAt, b.ReceivedAt)
	case (a.Headers == nil) != (b.Headers == nil) || !maps.Equal(a.Headers, b.Headers):
		return fmt.Sprintf("headers %#v vs %#v", a.Headers, b.Headers)
	case !bytes.Equal(a.Body, b.Body) || a.Body == nil || b.Body == nil:
		return fmt.Sprintf("body %q vs %q", a.Body, b.Body)
	}
	return ""
}

// validUTF8 is s as a JSON string carries it: each byte that is not UTF-8 is U+FFFD.
func validUTF8(s string) string { return string([]rune(s)) }

// afterTrip is what e decodes to once encoded: names made valid UTF-8, the time in
// UTC, empty headers left out (of names that meet once made valid, the last in
// byte order wins), a nil body empty.
func afterTrip(e *Envelope) *Envelope {
	w := &Envelope{
		Source: validUTF8(e.Source), ID: validUTF8(e.ID), Type: validUTF8(e.Type),
		ReceivedAt: e.ReceivedAt.UTC(), Body: e.Body,
	}
	if len(e.Headers) > 0 {
		w.Headers = make(map[string]string, len(e.Headers))
		for _, k := range slices.Sorted(maps.Keys(e.Headers)) {
			w.Headers[validUTF8(k)] = validUTF8(e.Headers[k])
		}
	}
	if w.Body == nil {
		w.Body = []byte{}
	}
	return w
}

// checkRoundTrip holds Decode(Encode(e)) to afterTrip(e), and returns the encoding.
func checkRoundTrip(t *testing.T, e *Envelope) []byte {
	t.Helper()
	data, err := Encode(e)
	if err != nil {
		t.Fatalf("Encode(%+v): %v", e, err)
	}
	if bad, at := illegalForSQS(data); bad {
		t.Fatalf("Encode(%+v) holds a character SQS refuses at byte %d: %q", e, at, data)
	}
	if !e.Stored() {
		checkBodyChoice(t, e.Body, data)
	}
	back, err := Decode(data)
	if err != nil {
		t.Fatalf("Decode(%s): %v", data, err)
	}
	if diff := sameEnvelope(back, afterTrip(e)); diff != "" {
		t.Fatalf("Decode(Encode(%+v)): %s (got, want)", e, diff)
	}
	return data
}

// illegalForSQS reports whether data holds a character outside what SQS accepts
// (#x9 | #xA | #xD | #x20–#xD7FF | #xE000–#xFFFD | #x10000–#x10FFFF), and where.
func illegalForSQS(data []byte) (bool, int) {
	for i, r := range string(data) {
		ok := r == '\t' || r == '\n' || r == '\r' ||
			(r >= 0x20 && r <= 0xD7FF) || (r >= 0xE000 && r <= 0xFFFD) || (r >= 0x10000 && r <= 0x10FFFF)
		if !ok || (r == utf8.RuneError && !strings.HasPrefix(string(data[i:]), "\uFFFD")) {
			return true, i
		}
	}
	return false, 0
}

// checkBodyChoice holds data, the encoding of body, to the rule: a body travels as a
// JSON string when it is valid UTF-8 and its string form is no longer than its
// base64 form; otherwise base64-encoded.
func checkBodyChoice(t *testing.T, body, data []byte) {
	t.Helper()
	asBase64 := bytes.Contains(data, []byte(`"bodyEncoding":"base64"`))
	b64 := base64.StdEncoding.EncodedLen(len(body))
	if !utf8.Valid(body) {
		if !asBase64 {
			t.Fatalf("a body that is not UTF-8 travels as a string: %q", data)
		}
		return
	}
	var str bytes.Buffer
	enc := json.NewEncoder(&str)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(string(body)); err != nil {
		t.Fatal(err)
	}
	// The length of the body as a string, quotes and newline left out, with U+FFFE
	// and U+FFFF (3 bytes) written as \u escapes (6 bytes).
	n := str.Len() - 3 + 3*(strings.Count(string(body), "\uFFFE")+strings.Count(string(body), "\uFFFF"))
	if want := n > b64; asBase64 != want {
		t.Fatalf("body of %d bytes, %d as a string, %d as base64: base64 %v, want %v", len(body), n, b64, asBase64, want)
	}
}

func TestRoundTripKeepsBodyBytes(t *testing.T) {
	t.Parallel()
	bodies := map[string][]byte{
		"json with whitespace": []byte("{\n  \"a\" : 1 }\r\n"),
		"empty":                {},
		"form":                 []byte("payload=%7B%22a%22%3A1%7D"),
		"not utf-8":            {0xff, 0xfe, 0x00, 'x'},
		"html-ish":             []byte(`<a href="x">&amp;</a>`),
		"multibyte":            []byte("ação 日本 🙂 \uFFFD"),
		"escapes":              bytes.Repeat([]byte(`{"a":"\"q\"\\"}`), 5000),
	}
	for name, body := range bodies {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := sample()
			e.Body = body
			got, err := Decode(checkRoundTrip(t, e))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got.Body, body) {
				t.Fatalf("body = %q, want %q", got.Body, body)
			}
			if got.Key() != "stripe:evt_1" || !got.ReceivedAt.Equal(e.ReceivedAt) || got.Headers["content-type"] != "application/json" {
				t.Fatalf("decoded %+v", got)
			}
		})
	}
}

func TestWireFormat(t *testing.T) {
	t.Parallel()
	data, err := Encode(sample())
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"v": 1.0, "source": "stripe", "id": "evt_1", "type": "payment_intent.succeeded",
		"receivedAt": "2026-11-01T12:00:00.123Z",
		"body":       "{\n  \"id\": \"evt_1\", \"amount\": 100 }\n",
	}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("%s = %#v, want %#v", k, m[k], v)
		}
	}
	if _, ok := m["bodyEncoding"]; ok {
		t.Errorf("bodyEncoding present for a UTF-8 body")
	}
}

// TestEncodeBytes pins the bytes on the queue: members in a fixed order, headers
// sorted by name, strings escaped as encoding/json escapes them.
func TestEncodeBytes(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 11, 1, 12, 0, 0, 123456789, time.UTC)
	const stamp = `"v":1,"source":"s","id":"i","type":"t","receivedAt":"2026-11-01T12:00:00.123456789Z"`
	cases := map[string]struct {
		e    *Envelope
		want string
	}{
		"sample": {sample(), `{"v":1,"source":"stripe","id":"evt_1","type":"payment_intent.succeeded","receivedAt":"2026-11-01T12:00:00.123Z","headers":{"content-type":"application/json"},"body":"{\n  \"id\": \"evt_1\", \"amount\": 100 }\n"}`},
		"no headers": {&Envelope{Source: "s", ID: "i", Type: "t", ReceivedAt: at, Body: []byte(`{}`)},
			`{` + stamp + `,"body":"{}"}`},
		"empty headers": {&Envelope{Source: "s", ID: "i", Type: "t", ReceivedAt: at, Headers: map[string]string{}, Body: []byte(`{}`)},
			`{` + stamp + `,"body":"{}"}`},
		"headers sorted": {&Envelope{Source: "s", ID: "i", Type: "t", ReceivedAt: at, Headers: map[string]string{"x-b": "2", "x-a": "1", "X-c": "3", "x-aa": ""}, Body: []byte(`{}`)},
			`{` + stamp + `,"headers":{"X-c":"3","x-a":"1","x-aa":"","x-b":"2"},"body":"{}"}`},
		"html and separators": {&Envelope{Source: "<s>", ID: "a&b", Type: "t\u2028\u2029", ReceivedAt: at, Headers: map[string]string{"x<": "&>"}, Body: []byte("<a href=\"x\">\u2028</a>")},
			`{"v":1,"source":"<s>","id":"a&b","type":"t\u2028\u2029","receivedAt":"2026-11-01T12:00:00.123456789Z","headers":{"x<":"&>"},"body":"<a href=\"x\">\u2028</a>"}`},
		"non-characters": {&Envelope{Source: "s\uFFFE", ID: "i", Type: "t", ReceivedAt: at, Headers: map[string]string{"x-\uFFFF": "\uFFFE\uFFFF\uFFFD\U0010FFFF"}, Body: []byte("a\uFFFFb")},
			`{"v":1,"source":"s\ufffe","id":"i","type":"t","receivedAt":"2026-11-01T12:00:00.123456789Z","headers":{"x-\uffff":"\ufffe\uffff` + "\uFFFD\U0010FFFF" + `"},"body":"a\uffffb"}`},
		"control body as base64": {&Envelope{Source: "s", ID: "i", Type: "t", ReceivedAt: at, Body: []byte("\x00\x01\x02\x03")},
			`{` + stamp + `,"body":"AAECAw==","bodyEncoding":"base64"}`},
		"controls": {&Envelope{Source: "s\x00\x1f", ID: "\b\f\n\r\t", Type: "\x7f", ReceivedAt: at, Body: []byte("\x00\x01\x1e\\\"/")},
			"{\"v\":1,\"source\":\"s\\u0000\\u001f\",\"id\":\"\\b\\f\\n\\r\\t\",\"type\":\"\x7f\",\"receivedAt\":\"2026-11-01T12:00:00.123456789Z\",\"body\":\"AAEeXCIv\",\"bodyEncoding\":\"base64\"}"},
		"escapes in a body": {&Envelope{Source: "s", ID: "i", Type: "t", ReceivedAt: at, Body: []byte("say \"hi\" \\ \x1f\t to everyone in the room, </p> & co")},
			`{` + stamp + `,"body":"say \"hi\" \\ \u001f\t to everyone in the room, </p> & co"}`},
		"names not utf-8": {&Envelope{Source: "s\xff", ID: "i\xc3", Type: "t\xed\xa0\x80", ReceivedAt: at, Headers: map[string]string{"\xfe": "\xc3("}, Body: []byte("ok")},
			`{"v":1,"source":"s\ufffd","id":"i\ufffd","type":"t\ufffd\ufffd\ufffd","receivedAt":"2026-11-01T12:00:00.123456789Z","headers":{"\ufffd":"\ufffd("},"body":"ok"}`},
		"binary body": {&Envelope{Source: "s", ID: "i", Type: "t", ReceivedAt: at, Body: []byte{0xff, 0xfe, 0, 'x'}},
			`{` + stamp + `,"body":"//4AeA==","bodyEncoding":"base64"}`},
		"empty body": {&Envelope{Source: "s", ID: "i", Type: "t", ReceivedAt: at, Body: []byte{}},
			`{` + stamp + `,"body":""}`},
		"nil body": {&Envelope{Source: "s", ID: "i", Type: "t", ReceivedAt: at},
			`{` + stamp + `,"body":""}`},
		"multibyte body": {&Envelope{Source: "s", ID: "i", Type: "t", ReceivedAt: at, Body: []byte("ação 日本 🙂 \uFFFD")},
			`{` + stamp + `,"body":"ação 日本 🙂 ` + "\uFFFD" + `"}`},
		"zero time": {&Envelope{Source: "s", ID: "i", Type: "t", Body: []byte("x")},
			`{"v":1,"source":"s","id":"i","type":"t","receivedAt":"0001-01-01T00:00:00Z","body":"x"}`},
		"offset time": {&Envelope{Source: "s", ID: "i", Type: "t", ReceivedAt: at.In(time.FixedZone("x", -7*3600)), Body: []byte("x")},
			`{` + stamp + `,"body":"x"}`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if got := checkRoundTrip(t, tc.e); string(got) != tc.want {
				t.Fatalf("Encode:\n got %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestEncodeRejects(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		e       *Envelope
		invalid bool // wraps ErrInvalid
	}{
		"missing source": {&Envelope{ID: "i", Type: "t"}, true},
		"missing id":     {&Envelope{Source: "s", Type: "t"}, true},
		"missing type":   {&Envelope{Source: "s", ID: "i"}, true},
		"year 10000":     {&Envelope{Source: "s", ID: "i", Type: "t", ReceivedAt: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}, false},
		"year -1":        {&Envelope{Source: "s", ID: "i", Type: "t", ReceivedAt: time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC)}, false},
		// 9999-12-31T23:00-02:00 is in year 10000 once in UTC.
		"year 10000 in UTC": {&Envelope{Source: "s", ID: "i", Type: "t", ReceivedAt: time.Date(9999, 12, 31, 23, 0, 0, 0, time.FixedZone("x", -2*3600))}, false},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			data, err := Encode(tc.e)
			if err == nil || errors.Is(err, ErrInvalid) != tc.invalid {
				t.Fatalf("Encode = %s, %v; want an error (ErrInvalid %v)", data, err, tc.invalid)
			}
		})
	}
}

func TestEncodeRejectsIncomplete(t *testing.T) {
	t.Parallel()
	e := sample()
	e.ID = ""
	if _, err := Encode(e); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "id") {
		t.Fatalf("err = %v", err)
	}
}

func TestDecodeRejects(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"not json":         `{"v":1`,
		"wrong version":    `{"v":3,"source":"s","id":"i","type":"t","body":""}`,
		"no version":       `{"source":"s","id":"i","type":"t","body":""}`,
		"missing source":   `{"v":1,"id":"i","type":"t","body":""}`,
		"missing id":       `{"v":1,"source":"s","type":"t","body":""}`,
		"missing type":     `{"v":1,"source":"s","id":"i","body":""}`,
		"bad base64":       `{"v":1,"source":"s","id":"i","type":"t","body":"%%%","bodyEncoding":"base64"}`,
		"unknown encoding": `{"v":1,"source":"s","id":"i","type":"t","body":"","bodyEncoding":"gzip"}`,
	}
	for name, in := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := Decode([]byte(in))
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("err = %v, want ErrInvalid", err)
			}
		})
	}
}

// TestDecode holds Decode and DecodeString to what earlier versions of the envelope
// accepted, and to what they decoded it to.
func TestDecode(t *testing.T) {
	t.Parallel()
	const ok = `"source":"s","id":"i","type":"t","body":"b"`
	// env is the envelope {"v":1,"source":"s","id":"i","type":"t","body":body} is.
	env := func(body string) *Envelope { return &Envelope{Source: "s", ID: "i", Type: "t", Body: []byte(body)} }
	withHeaders := func(h map[string]string) *Envelope { e := env("b"); e.Headers = h; return e }
	withTime := func(s string) *Envelope {
		e := env("b")
		var err error
		if e.ReceivedAt, err = time.Parse(time.RFC3339Nano, s); err != nil {
			t.Fatal(err)
		}
		return e
	}
	bin := env("\x00\x01")
	accepts := []struct {
		in   string
		want *Envelope
	}{
		{`{"v":1,` + ok + `}`, env("b")},
		{` {"v":1,` + ok + `} `, env("b")},
		{"\t\r\n{\"v\":1," + ok + "}\n", env("b")},
		{`{"v":2,"v":1,` + ok + `}`, env("b")},
		{`{"v":1,"v":null,` + ok + `}`, env("b")},
		{`{"V":1,"SOURCE":"s","Id":"i","TYPE":"t","Body":"b"}`, env("b")},
		{`{"v":1,"ſource":"s","id":"i","type":"t","body":"b"}`, env("b")},
		{`{"\u0076":1,"sour\u0063e":"s","id":"i","type":"t","body":"b"}`, env("b")},
		{`{"v":1,"source":null,` + ok + `}`, env("b")},
		{`{"v":1,` + ok + `,"source":null}`, env("b")},
		{`{"v":1,` + ok + `,"extra":{"a":[1,2,{"b":null}],"c":true,"d":false,"e":-1.5e+3}}`, env("b")},
		{`{"v":1,` + ok + `,"headers":{"a":"1","b":null}}`, withHeaders(map[string]string{"a": "1", "b": ""})},
		{`{"v":1,` + ok + `,"headers":{}}`, withHeaders(map[string]string{})},
		{`{"v":1,` + ok + `,"headers":null}`, env("b")},
		{`{"v":1,` + ok + `,"headers":{"a":"1"},"headers":{"b":"2"}}`, withHeaders(map[string]string{"a": "1", "b": "2"})},
		{`{"v":1,` + ok + `,"headers":{"a":"1"},"headers":null,"headers":{"b":"2"}}`, withHeaders(map[string]string{"b": "2"})},
		{`{"v":1,` + ok + `,"headers":{"a":"1","a":"2"}}`, withHeaders(map[string]string{"a": "2"})},
		{`{"v":1,` + ok + `,"receivedAt":"2026-11-01T12:00:00.123Z"}`, withTime("2026-11-01T12:00:00.123Z")},
		{`{"v":1,` + ok + `,"receivedAt":"2026-11-01T12:00:00+02:00"}`, withTime("2026-11-01T12:00:00+02:00")},
		{`{"v":1,` + ok + `,"receivedAt":null}`, env("b")},
		{`{"v":1,` + ok + `,"body":"\"\\\/\b\f\n\r\t\u00e7\u2028"}`, env("\"\\/\b\f\n\r\tç\u2028")},
		{`{"v":1,` + ok + `,"body":"\ud83d\ude42 \ud83d x \ude42 \ud83d\u0041"}`, env("🙂 \uFFFD x \uFFFD \uFFFDA")},
		{`{"v":1,` + ok + `,"body":"\ud800\ud800\udc00"}`, env("\uFFFD𐀀")},
		{`{"v":1,` + ok + `,"body":"a much longer first body with \"escapes\"","body":"x"}`, env("x")},
		{`{"v":1,` + ok + `,"body":"x","body":"then a longer \u00e7 one"}`, env("then a longer ç one")},
		{`{"v":1,` + ok + `,"body":"x","body":null}`, env("x")},
		{`{"v":1,` + ok + `,"body":"\u00e7\ud83d"}`, env("ç\uFFFD")},
		{"{\"v\":1," + ok + ",\"body\":\"bad \xff \xed\xa0\x80 \xc3\"}", env("bad \uFFFD \uFFFD\uFFFD\uFFFD \uFFFD")},
		{"{\"v\":1," + ok + ",\"body\":\"\x7f\"}", env("\x7f")},
		{`{"v":1,` + ok + `,"body":"AAE=","bodyEncoding":"base64"}`, bin},
		{`{"v":1,` + ok + `,"body":"AA\nE=","bodyEncoding":"base64"}`, bin},
		{`{"v":1,"source":"s","id":"i","type":"t"}`, env("")},
		{`{"v":1,` + ok + `,"x":` + strings.Repeat("[", 9999) + strings.Repeat("]", 9999) + `}`, env("b")},
		{`{"v":1,` + ok + `,"x":` + strings.Repeat(`{"a":`, 9999) + `1` + strings.Repeat("}", 9999) + `}`, env("b")},
	}
	rejects := []string{
		`{"v":1,` + ok + `}x`,
		`{"v":1,` + ok + `}{}`,
		`{"v":1,` + ok + `,}`,
		`{"v":1,` + ok,
		`{"v":1 ` + ok + `}`,
		`{"v":1.0,` + ok + `}`,
		`{"v":1e0,` + ok + `}`,
		`{"v":-0,` + ok + `}`,
		`{"v":01,` + ok + `}`,
		`{"v":"1",` + ok + `}`,
		`{"v":true,` + ok + `}`,
		`{"v":99999999999999999999,` + ok + `}`,
		`{"v":1,` + ok + `,"source":1}`,
		`{"v":1,` + ok + `,"source":{}}`,
		`{"v":1,` + ok + `,"source":["x"]}`,
		`{"v":1,` + ok + `,"extra":[}`,
		`{"v":1,` + ok + `,"extra":{"a"}}`,
		`{"v":1,` + ok + `,"extra":{"a":1,}}`,
		`{"v":1,` + ok + `,"extra":[1,]}`,
		`{"v":1,` + ok + `,"extra":tru}`,
		`{"v":1,` + ok + `,"extra":nul}`,
		`{"v":1,` + ok + `,"extra":-}`,
		`{"v":1,` + ok + `,"extra":1.}`,
		`{"v":1,` + ok + `,"extra":1e}`,
		`{"v":1,` + ok + `,"extra":.5}`,
		`{"v":1,` + ok + `,"extra":+1}`,
		`{"v":1,` + ok + `,"headers":{"a":1}}`,
		`{"v":1,` + ok + `,"headers":{"a":{}}}`,
		`{"v":1,` + ok + `,"headers":[]}`,
		`{"v":1,` + ok + `,"headers":"x"}`,
		`{"v":1,` + ok + `,"receivedAt":"2026-11-01T12:00:00"}`,
		`{"v":1,` + ok + `,"receivedAt":"2026-11-01T12:00:00\u005a"}`,
		`{"v":1,` + ok + `,"receivedAt":1}`,
		`{"v":1,` + ok + `,"receivedAt":{}}`,
		`{"v":1,` + ok + `,"receivedAt":"` + strings.Repeat("9", 100) + `"}`,
		`{"v":1,` + ok + `,"body":"\x"}`,
		`{"v":1,` + ok + `,"body":"x","body":1}`,
		`{"v":1,` + ok + `,"body":"\ud83d\`,
		`{"v":1,` + ok + `,"body":"\ud83d\u`,
		`{"v":1,` + ok + `,"body":"\ud83d\u12`,
		`{"v":1,` + ok + `,"body":"\ud83d\uZZZZ"}`,
		`{"v":1,` + ok + `,"body":"\`,
		`{"v":1,` + ok + `,"body":"abc`,
		`{"v":1,` + ok + `,"body":"\u12"}`,
		`{"v":1,` + ok + `,"body":"\u12G4"}`,
		`{"v":1,` + ok + `,"body":"tab	in"}`,
		`{"v":1,` + ok + `,"body":"%%%","bodyEncoding":"base64"}`,
		`{"v":1,` + ok + `,"bodyEncoding":"gzip"}`,
		`{"v":1,` + ok + `,"bodyEncoding":"BASE64"}`,
		`{"v":1,"source":"","id":"i","type":"t","body":""}`,
		`null`, `[]`, `"x"`, `1`, `true`, ``, ` `, `{`, `}`, `{}`, `{"v":1`, `{"v"`, `{"v":`, `{"v" 1}`, `{v:1}`,
		"\xef\xbb\xbf{}",
		`{"v":1,` + ok + `,"x":` + strings.Repeat("[", 10000) + strings.Repeat("]", 10000) + `}`,
		`{"v":1,` + ok + `,"x":` + strings.Repeat(`{"a":`, 10000) + `1` + strings.Repeat("}", 10000) + `}`,
	}
	decoders := map[string]func(string) (*Envelope, error){
		"Decode":       func(s string) (*Envelope, error) { return Decode([]byte(s)) },
		"DecodeString": DecodeString,
	}
	for name, decode := range decoders {
		for _, tc := range accepts {
			got, err := decode(tc.in)
			if err != nil {
				t.Errorf("%s(%q): %v", name, tc.in, err)
			} else if diff := sameEnvelope(got, tc.want); diff != "" {
				t.Errorf("%s(%q): %s (got, want)", name, tc.in, diff)
			}
		}
		for _, in := range rejects {
			if got, err := decode(in); !errors.Is(err, ErrInvalid) {
				t.Errorf("%s(%q) = %+v, %v; want ErrInvalid", name, in, got, err)
			}
		}
	}
}

func TestAttributes(t *testing.T) {
	t.Parallel()
	a := sample().Attributes()
	if a[AttrSource] != "stripe" || a[AttrType] != "payment_intent.succeeded" || a[AttrKey] != "stripe:evt_1" {
		t.Fatalf("attributes = %v", a)
	}
}

// FuzzDecode holds Decode on any input: it refuses with ErrInvalid or gives an
// envelope that encodes, in characters SQS accepts, and decodes back to itself (in
// UTC, empty headers left out), the second encoding the same bytes as the first.
func FuzzDecode(f *testing.F) {
	good, _ := Encode(sample())
	f.Add(good)
	f.Add([]byte(`{"v":1,"source":"s","id":"i","type":"t","body":"AAE=","bodyEncoding":"base64"}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"v":1,"source":"s\ufffe","id":"i","type":"t","headers":{"\uffff":"\ufffe"},"body":"\uffff<&>"}`))
	f.Add([]byte(`{"V":1,"ſource":"s","id":"\u0069","type":"t","headers":{"a":null},"body":"\ud83d\ude42\ud800"}`))
	f.Add([]byte(`{"v":1,"source":"s","id":"i","type":"t","x":[{"a":[1.5e3,true,null]}],"receivedAt":"2026-01-02T03:04:05+01:00"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := Decode(data)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error does not wrap ErrInvalid: %v", err)
			}
			return
		}
		if y := e.ReceivedAt.UTC().Year(); y < 0 || y > 9999 {
			// An offset can carry year 9999 or 0 out of what RFC 3339 writes.
			if _, err := Encode(e); err == nil {
				t.Fatalf("encoded a time in year %d", y)
			}
			return
		}
		first := checkRoundTrip(t, e)
		back, err := Decode(first)
		if err != nil {
			t.Fatal(err)
		}
		if again := checkRoundTrip(t, back); !bytes.Equal(again, first) {
			t.Fatalf("re-encoding changed the bytes:\n%s\n%s", first, again)
		}
	})
}

// FuzzEncode holds Encode on any envelope: what it writes holds only characters SQS
// accepts and decodes back to the same envelope (names as valid UTF-8, the time in
// UTC), the body byte for byte, carried as a string or base64 by the length rule.
func FuzzEncode(f *testing.F) {
	f.Add("stripe", "evt_1", "payment_intent.succeeded", int64(1793534400123456789), "content-type", "application/json", []byte(`{"id":"evt_1"}`))
	f.Add("s<", "i&", "t\u2028", int64(-62135596800000000), "\xff", "\x00", []byte{0xff, 0})
	f.Add("s", "i", "t", int64(0), "", "", []byte(nil))
	f.Add("s\uFFFF", "i\uFFFE", "t", int64(1), "x-\uFFFE", "\uFFFF", []byte("\uFFFF\uFFFE<>&\u2028"))
	f.Add("s", "i", "t", int64(2), "h", "v", bytes.Repeat([]byte{0, 1, 2, '"'}, 50))
	f.Add("s", "i", "t", int64(3), "h", "v", []byte("ok \xed\xa0\x80 \xc3("))
	f.Fuzz(func(t *testing.T, source, id, typ string, unixNano int64, hk, hv string, body []byte) {
		e := &Envelope{Source: source, ID: id, Type: typ, ReceivedAt: time.Unix(0, unixNano).Add(time.Duration(unixNano%7) * 1000 * time.Hour), Body: body}
		if hk != "" || hv != "" {
			e.Headers = map[string]string{hk: hv, "x-" + hk: hv + hk}
		}
		if source == "" || id == "" || typ == "" {
			if _, err := Encode(e); !errors.Is(err, ErrInvalid) {
				t.Fatalf("Encode(%+v) = %v, want ErrInvalid", e, err)
			}
			return
		}
		checkRoundTrip(t, e)
	})
}

func TestStoredBodyRoundTrip(t *testing.T) {
	e := sample()
	e.Body = nil
	e.BodyRef = "bodies/stripe/" + strings.Repeat("ab", 32)
	e.BodySHA256 = strings.Repeat("0f", 32)
	data, err := Encode(e)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(data, []byte(`"v":2,`)) || bytes.Contains(data, []byte(`"body":`)) {
		t.Fatalf("a stored body is version 2 with no inline body: %s", data)
	}
	back, err := Decode(data)
	if err != nil {
		t.Fatal(err)
	}
	if !back.Stored() || back.BodyRef != e.BodyRef || back.BodySHA256 != e.BodySHA256 || len(back.Body) != 0 || back.Key() != e.Key() {
		t.Fatalf("Decode = %+v", back)
	}
	// A body set beside the reference is not sent: the reference wins.
	e.Body = []byte("large")
	again, err := Encode(e)
	if err != nil || !bytes.Equal(again, data) {
		t.Fatalf("Encode with both = %s, %v; want %s", again, err, data)
	}
}

func TestStoredBodyRefused(t *testing.T) {
	sum := strings.Repeat("0f", 32)
	for name, msg := range map[string]string{
		"v1 with ref":        `{"v":1,"source":"s","id":"i","type":"t","receivedAt":"2026-11-01T12:00:00Z","body":"","bodyRef":"bodies/s/x","bodySha256":"` + sum + `"}`,
		"v2 with body":       `{"v":2,"source":"s","id":"i","type":"t","receivedAt":"2026-11-01T12:00:00Z","body":"x","bodyRef":"bodies/s/x","bodySha256":"` + sum + `"}`,
		"v2 without ref":     `{"v":2,"source":"s","id":"i","type":"t","receivedAt":"2026-11-01T12:00:00Z","bodySha256":"` + sum + `"}`,
		"v2 short sum":       `{"v":2,"source":"s","id":"i","type":"t","receivedAt":"2026-11-01T12:00:00Z","bodyRef":"bodies/s/x","bodySha256":"0f"}`,
		"v2 upper-case sum":  `{"v":2,"source":"s","id":"i","type":"t","receivedAt":"2026-11-01T12:00:00Z","bodyRef":"bodies/s/x","bodySha256":"` + strings.ToUpper(sum) + `"}`,
		"v2 base64 encoding": `{"v":2,"source":"s","id":"i","type":"t","receivedAt":"2026-11-01T12:00:00Z","bodyEncoding":"base64","bodyRef":"bodies/s/x","bodySha256":"` + sum + `"}`,
		"v3":                 `{"v":3,"source":"s","id":"i","type":"t","receivedAt":"2026-11-01T12:00:00Z","bodyRef":"bodies/s/x","bodySha256":"` + sum + `"}`,
	} {
		if _, err := DecodeString(msg); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: Decode err = %v, want ErrInvalid", name, err)
		}
	}
	e := sample()
	e.BodyRef, e.BodySHA256 = "bodies/stripe/x", "nope"
	if _, err := Encode(e); !errors.Is(err, ErrInvalid) {
		t.Errorf("Encode with a bad sum: %v, want ErrInvalid", err)
	}
}

// TestEncodeSQSLegal holds the characters SQS refuses, U+FFFE and U+FFFF, to \u
// escapes wherever they occur, and the message to a round trip.
func TestEncodeSQSLegal(t *testing.T) {
	t.Parallel()
	for name, e := range map[string]*Envelope{
		"U+FFFF body":         {Body: []byte("\uFFFF")},
		"U+FFFE body":         {Body: []byte("{\"a\":\"\uFFFE\"}")},
		"non-characters only": {Body: bytes.Repeat([]byte("\uFFFE\uFFFF"), 1000)},
		"header value":        {Headers: map[string]string{"x-sig": "a\uFFFFb\uFFFE"}, Body: []byte("{}")},
		"header name":         {Headers: map[string]string{"x-\uFFFF": "v"}, Body: []byte("{}")},
		"names":               {Source: "s\uFFFF", ID: "\uFFFE", Type: "t\uFFFF", Body: []byte("x")},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if e.Source == "" {
				e.Source, e.ID, e.Type = "s", "i", "t"
			}
			data := checkRoundTrip(t, e)
			if bytes.Contains(data, []byte("\uFFFE")) || bytes.Contains(data, []byte("\uFFFF")) {
				t.Fatalf("raw non-character in %q", data)
			}
		})
	}
	// Among text, non-characters are escaped in a string body: 13 bytes for each
	// 10 of "abcdef \uFFFF" against 14 (rounded up) as base64.
	data := checkRoundTrip(t, &Envelope{Source: "s", ID: "i", Type: "t", Body: bytes.Repeat([]byte("abcdef \uFFFF"), 1000)})
	if bytes.Contains(data, []byte("bodyEncoding")) || !bytes.Contains(data, []byte(`"body":"abcdef \uffffabcdef \uffff`)) {
		t.Fatalf("non-characters not escaped in a string body: %.200s", data)
	}
}

// TestEncodeHTMLNotEscaped holds a body of HTML characters to its own size: 200 KiB
// of '<' is not written as 1.2 MiB of \u003c.
func TestEncodeHTMLNotEscaped(t *testing.T) {
	t.Parallel()
	for _, c := range []string{"<", ">", "&"} {
		body := bytes.Repeat([]byte(c), 200<<10)
		data := checkRoundTrip(t, &Envelope{Source: "s", ID: "i", Type: "t", ReceivedAt: time.Unix(0, 0), Body: body})
		if len(data) > len(body)+200 || bytes.Contains(data, []byte("bodyEncoding")) {
			t.Fatalf("%d bytes of %q encode to %d bytes (%.80s…)", len(body), c, len(data), data)
		}
	}
}

// TestEncodeBodyChoice holds the body to the shorter of its string and base64 forms,
// the string when they are as long, and base64 when it is not UTF-8.
func TestEncodeBodyChoice(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		body   []byte
		base64 bool
	}{
		{"json", []byte(`{"a":[1,2,3],"b":"x"}`), false},
		{"many control characters", bytes.Repeat([]byte{0, 1, 2, 3, 'a'}, 1000), true},
		{"a few control characters", append(bytes.Repeat([]byte("text "), 200), 0, 1), false},
		{"many quotes and backslashes", bytes.Repeat([]byte(`\"`), 1000), true},
		{"non-characters", bytes.Repeat([]byte("\uFFFF"), 10), true},                 // 6 bytes an escape, 4 as base64
		{"separators", bytes.Repeat([]byte("\u2028"), 12), true},                     // the same
		{"some non-characters", bytes.Repeat([]byte("some text \uFFFF"), 10), false}, // 160 bytes escaped, 176 as base64
		{"three NULs", []byte("\x00\x00\x00"), true},                                 // 18 bytes escaped, 4 as base64
		{"as long either way", []byte(`"ab`), false},                                 // 4 bytes escaped, 4 as base64
		{"one byte longer", []byte(`""b`), true},                                     // 5 bytes escaped, 4 as base64
		{"invalid UTF-8", []byte("almost text \xff"), true},
		{"surrogate half", []byte("a \xed\xa0\x80 b"), true},
		{"truncated rune", []byte("ação"[:2]), true},
		{"NUL bytes", make([]byte, 64), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			data := checkRoundTrip(t, &Envelope{Source: "s", ID: "i", Type: "t", Body: tt.body})
			if got := bytes.Contains(data, []byte(`"bodyEncoding":"base64"`)); got != tt.base64 {
				t.Fatalf("base64 = %v, want %v: %.200s", got, tt.base64, data)
			}
		})
	}
}

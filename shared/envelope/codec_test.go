package envelope

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// refWire is the wire object as encoding/json reads and writes it: the reference
// the hand-written codec must match byte for byte.
type refWire struct {
	V            int               `json:"v"`
	Source       string            `json:"source"`
	ID           string            `json:"id"`
	Type         string            `json:"type"`
	ReceivedAt   time.Time         `json:"receivedAt"`
	Headers      map[string]string `json:"headers,omitempty"`
	Body         string            `json:"body"`
	BodyEncoding string            `json:"bodyEncoding,omitempty"`
}

func refEncode(e *Envelope) ([]byte, error) {
	if err := e.validate(); err != nil {
		return nil, err
	}
	w := refWire{V: Version, Source: e.Source, ID: e.ID, Type: e.Type, ReceivedAt: e.ReceivedAt.UTC(), Headers: e.Headers}
	if utf8.Valid(e.Body) {
		w.Body = string(e.Body)
	} else {
		w.Body = base64.StdEncoding.EncodeToString(e.Body)
		w.BodyEncoding = encodingBase64
	}
	return json.Marshal(&w)
}

func refDecode(data []byte) (*Envelope, error) {
	var w refWire
	if err := json.Unmarshal(data, &w); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if w.V != Version {
		return nil, fmt.Errorf("%w: version %d", ErrInvalid, w.V)
	}
	e := &Envelope{Source: w.Source, ID: w.ID, Type: w.Type, ReceivedAt: w.ReceivedAt, Headers: w.Headers}
	switch w.BodyEncoding {
	case "":
		e.Body = []byte(w.Body)
	case encodingBase64:
		b, err := base64.StdEncoding.DecodeString(w.Body)
		if err != nil {
			return nil, fmt.Errorf("%w: body: %v", ErrInvalid, err)
		}
		e.Body = b
	default:
		return nil, fmt.Errorf("%w: bodyEncoding %q", ErrInvalid, w.BodyEncoding)
	}
	if err := e.validate(); err != nil {
		return nil, err
	}
	return e, nil
}

// sameEnvelope says how a and b differ, or "" when they are the same (nil and empty
// header maps differ, as they would to a caller ranging over them only in length).
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

// checkDecode holds Decode and DecodeString to encoding/json's answer for data.
func checkDecode(t *testing.T, data []byte) {
	t.Helper()
	want, wantErr := refDecode(data)
	for name, decode := range map[string]func([]byte) (*Envelope, error){
		"Decode":       Decode,
		"DecodeString": func(b []byte) (*Envelope, error) { return DecodeString(string(b)) },
	} {
		got, err := decode(data)
		switch {
		case (err == nil) != (wantErr == nil):
			t.Fatalf("%s(%q): err %v, encoding/json says %v", name, data, err, wantErr)
		case err != nil:
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("%s(%q): error does not wrap ErrInvalid: %v", name, data, err)
			}
		default:
			if diff := sameEnvelope(got, want); diff != "" {
				t.Fatalf("%s(%q): %s (got, encoding/json)", name, data, diff)
			}
		}
	}
}

// checkEncode holds Encode to encoding/json's bytes for e, and its output to decoding
// back to what encoding/json decodes.
func checkEncode(t *testing.T, e *Envelope) {
	t.Helper()
	want, wantErr := refEncode(e)
	got, err := Encode(e)
	if (err == nil) != (wantErr == nil) {
		t.Fatalf("Encode(%+v): err %v, encoding/json says %v", e, err, wantErr)
	}
	if err != nil {
		return
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("Encode(%+v):\n got %s\nwant %s", e, got, want)
	}
	prefix := []byte("prefix")
	if appended, err := AppendEncode(prefix, e); err != nil || !bytes.Equal(appended, append(prefix, want...)) {
		t.Fatalf("AppendEncode kept %q, err %v", appended, err)
	}
	checkDecode(t, got)
	back, err := Decode(got)
	if err != nil {
		t.Fatalf("Decode(Encode(e)): %v", err)
	}
	if !bytes.Equal(back.Body, e.Body) {
		t.Fatalf("body %q came back as %q", e.Body, back.Body)
	}
}

func TestEncodeMatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 11, 1, 12, 0, 0, 123456789, time.UTC)
	cases := map[string]*Envelope{
		"sample":         sample(),
		"no headers":     {Source: "s", ID: "i", Type: "t", ReceivedAt: at, Body: []byte(`{}`)},
		"empty headers":  {Source: "s", ID: "i", Type: "t", ReceivedAt: at, Headers: map[string]string{}, Body: []byte(`{}`)},
		"many headers":   {Source: "s", ID: "i", Type: "t", ReceivedAt: at, Headers: manyHeaders(40), Body: []byte(`{}`)},
		"html and seps":  {Source: "<s>", ID: "a&b", Type: "t\u2028\u2029", ReceivedAt: at, Headers: map[string]string{"x<": "&>"}, Body: []byte("<a href=\"x\">\u2028</a>")},
		"controls":       {Source: "s\x00\x1f", ID: "\b\f\n\r\t", Type: "\x7f", ReceivedAt: at, Body: []byte("\x00\x01\x1e")},
		"bad utf-8 name": {Source: "s\xff", ID: "i\xc3", Type: "t\xed\xa0\x80", ReceivedAt: at, Headers: map[string]string{"\xfe": "\xc3("}, Body: []byte("ok")},
		"binary body":    {Source: "s", ID: "i", Type: "t", ReceivedAt: at, Body: []byte{0xff, 0xfe, 0, 'x'}},
		"empty body":     {Source: "s", ID: "i", Type: "t", ReceivedAt: at, Body: []byte{}},
		"nil body":       {Source: "s", ID: "i", Type: "t", ReceivedAt: at},
		"zero time":      {Source: "s", ID: "i", Type: "t", Body: []byte("x")},
		"offset time":    {Source: "s", ID: "i", Type: "t", ReceivedAt: at.In(time.FixedZone("x", -7*3600)), Body: []byte("x")},
		"year 10000":     {Source: "s", ID: "i", Type: "t", ReceivedAt: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), Body: []byte("x")},
		"year -1":        {Source: "s", ID: "i", Type: "t", ReceivedAt: time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC), Body: []byte("x")},
		"missing type":   {Source: "s", ID: "i", ReceivedAt: at, Body: []byte("x")},
		"multibyte body": {Source: "s", ID: "i", Type: "t", ReceivedAt: at, Body: []byte("ação 日本 🙂 \uFFFD")},
		"big body":       {Source: "s", ID: "i", Type: "t", ReceivedAt: at, Body: bytes.Repeat([]byte(`{"a":"\"q\""}`), 5000)},
	}
	for name, e := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			checkEncode(t, e)
		})
	}
}

func manyHeaders(n int) map[string]string {
	h := make(map[string]string, n)
	for i := range n {
		h[fmt.Sprintf("x-h%02d", (i*7)%n)] = strings.Repeat("v", i)
	}
	return h
}

func TestDecodeMatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	const ok = `"source":"s","id":"i","type":"t","body":"b"`
	inputs := []string{
		`{"v":1,` + ok + `}`,
		` {"v":1,` + ok + `} `,
		"\t\r\n{\"v\":1," + ok + "}\n",
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
		`{"v":2,"v":1,` + ok + `}`,
		`{"v":1,"v":null,` + ok + `}`,
		`{"V":1,"SOURCE":"s","Id":"i","TYPE":"t","Body":"b"}`,
		`{"v":1,"ſource":"s","id":"i","type":"t","body":"b"}`,
		`{"\u0076":1,"sour\u0063e":"s","id":"i","type":"t","body":"b"}`,
		`{"v":1,"source":null,` + ok + `}`,
		`{"v":1,` + ok + `,"source":null}`,
		`{"v":1,` + ok + `,"source":1}`,
		`{"v":1,` + ok + `,"source":{}}`,
		`{"v":1,` + ok + `,"source":["x"]}`,
		`{"v":1,` + ok + `,"extra":{"a":[1,2,{"b":null}],"c":true,"d":false,"e":-1.5e+3}}`,
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
		`{"v":1,` + ok + `,"headers":{"a":"1","b":null}}`,
		`{"v":1,` + ok + `,"headers":{}}`,
		`{"v":1,` + ok + `,"headers":null}`,
		`{"v":1,` + ok + `,"headers":{"a":"1"},"headers":{"b":"2"}}`,
		`{"v":1,` + ok + `,"headers":{"a":"1"},"headers":null,"headers":{"b":"2"}}`,
		`{"v":1,` + ok + `,"headers":{"a":"1","a":"2"}}`,
		`{"v":1,` + ok + `,"headers":{"a":1}}`,
		`{"v":1,` + ok + `,"headers":{"a":{}}}`,
		`{"v":1,` + ok + `,"headers":[]}`,
		`{"v":1,` + ok + `,"headers":"x"}`,
		`{"v":1,` + ok + `,"receivedAt":"2026-11-01T12:00:00.123Z"}`,
		`{"v":1,` + ok + `,"receivedAt":"2026-11-01T12:00:00+02:00"}`,
		`{"v":1,` + ok + `,"receivedAt":"2026-11-01T12:00:00"}`,
		`{"v":1,` + ok + `,"receivedAt":"2026-11-01T12:00:00\u005a"}`,
		`{"v":1,` + ok + `,"receivedAt":null}`,
		`{"v":1,` + ok + `,"receivedAt":1}`,
		`{"v":1,` + ok + `,"receivedAt":{}}`,
		`{"v":1,` + ok + `,"receivedAt":"` + strings.Repeat("9", 100) + `"}`,
		`{"v":1,` + ok + `,"body":"\"\\\/\b\f\n\r\t\u00e7\u2028"}`,
		`{"v":1,` + ok + `,"body":"\ud83d\ude42 \ud83d x \ude42 \ud83d\u0041"}`,
		`{"v":1,` + ok + `,"body":"\ud800\ud800\udc00"}`,
		`{"v":1,` + ok + `,"body":"\x"}`,
		`{"v":1,` + ok + `,"body":"a much longer first body with \"escapes\"","body":"x"}`,
		`{"v":1,` + ok + `,"body":"x","body":"then a longer \u00e7 one"}`,
		`{"v":1,` + ok + `,"body":"x","body":null}`,
		`{"v":1,` + ok + `,"body":"x","body":1}`,
		`{"v":1,` + ok + `,"body":"\u00e7\ud83d"}`,
		`{"v":1,` + ok + `,"body":"\ud83d\`,
		`{"v":1,` + ok + `,"body":"\ud83d\u`,
		`{"v":1,` + ok + `,"body":"\ud83d\u12`,
		`{"v":1,` + ok + `,"body":"\ud83d\uZZZZ"}`,
		`{"v":1,` + ok + `,"body":"\`,
		`{"v":1,` + ok + `,"body":"abc`,
		`{"v":1,` + ok + `,"body":"\u12"}`,
		`{"v":1,` + ok + `,"body":"\u12G4"}`,
		`{"v":1,` + ok + `,"body":"tab	in"}`,
		"{\"v\":1," + ok + ",\"body\":\"bad \xff \xed\xa0\x80 \xc3\"}",
		"{\"v\":1," + ok + ",\"body\":\"\x7f\"}",
		`{"v":1,` + ok + `,"body":"AAE=","bodyEncoding":"base64"}`,
		`{"v":1,` + ok + `,"body":"AA\nE=","bodyEncoding":"base64"}`,
		`{"v":1,` + ok + `,"body":"%%%","bodyEncoding":"base64"}`,
		`{"v":1,` + ok + `,"bodyEncoding":"gzip"}`,
		`{"v":1,` + ok + `,"bodyEncoding":"BASE64"}`,
		`{"v":1,"source":"s","id":"i","type":"t"}`,
		`{"v":1,"source":"","id":"i","type":"t","body":""}`,
		`null`, `[]`, `"x"`, `1`, `true`, ``, ` `, `{`, `}`, `{}`, `{"v":1`, `{"v"`, `{"v":`, `{"v" 1}`, `{v:1}`,
		"\xef\xbb\xbf{}",
		`{"v":1,` + ok + `,"x":` + strings.Repeat("[", maxDepth-1) + strings.Repeat("]", maxDepth-1) + `}`,
		`{"v":1,` + ok + `,"x":` + strings.Repeat("[", maxDepth) + strings.Repeat("]", maxDepth) + `}`,
		`{"v":1,` + ok + `,"x":` + strings.Repeat(`{"a":`, maxDepth-1) + `1` + strings.Repeat("}", maxDepth-1) + `}`,
		`{"v":1,` + ok + `,"x":` + strings.Repeat(`{"a":`, maxDepth) + `1` + strings.Repeat("}", maxDepth) + `}`,
	}
	for _, in := range inputs {
		checkDecode(t, []byte(in))
	}
}

// FuzzDecodeMatchesJSON holds the decoder to encoding/json on any input: the same
// refusals, and the same envelope when both accept.
func FuzzDecodeMatchesJSON(f *testing.F) {
	good, _ := Encode(sample())
	f.Add(good)
	f.Add([]byte(`{"v":1,"source":"s","id":"i","type":"t","body":"AAE=","bodyEncoding":"base64"}`))
	f.Add([]byte(`{"V":1,"ſource":"s","id":"\u0069","type":"t","headers":{"a":null},"body":"\ud83d\ude42\ud800"}`))
	f.Add([]byte(`{"v":1,"source":"s","id":"i","type":"t","x":[{"a":[1.5e3,true,null]}],"receivedAt":"2026-01-02T03:04:05+01:00"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		checkDecode(t, data)
	})
}

// FuzzEncodeMatchesJSON holds the encoder to encoding/json's bytes for any envelope,
// and its output to decoding back to the same body.
func FuzzEncodeMatchesJSON(f *testing.F) {
	f.Add("stripe", "evt_1", "payment_intent.succeeded", int64(1793534400123456789), "content-type", "application/json", []byte(`{"id":"evt_1"}`))
	f.Add("s<", "i&", "t\u2028", int64(-62135596800000000), "\xff", "\x00", []byte{0xff, 0})
	f.Add("s", "i", "t", int64(0), "", "", []byte(nil))
	f.Fuzz(func(t *testing.T, source, id, typ string, unixNano int64, hk, hv string, body []byte) {
		e := &Envelope{Source: source, ID: id, Type: typ, ReceivedAt: time.Unix(0, unixNano).Add(time.Duration(unixNano%7) * 1000 * time.Hour), Body: body}
		if hk != "" || hv != "" {
			e.Headers = map[string]string{hk: hv, "x-" + hk: hv + hk}
		}
		checkEncode(t, e)
	})
}

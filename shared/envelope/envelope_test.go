package envelope

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
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

func TestRoundTripKeepsBodyBytes(t *testing.T) {
	t.Parallel()
	bodies := map[string][]byte{
		"json with whitespace": []byte("{\n  \"a\" : 1 }\r\n"),
		"empty":                {},
		"form":                 []byte("payload=%7B%22a%22%3A1%7D"),
		"not utf-8":            {0xff, 0xfe, 0x00, 'x'},
		"html-ish":             []byte(`<a href="x">&amp;</a>`),
	}
	for name, body := range bodies {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := sample()
			e.Body = body
			data, err := Encode(e)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Decode(data)
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

func TestDecodeRejects(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"not json":         `{"v":1`,
		"wrong version":    `{"v":2,"source":"s","id":"i","type":"t","body":""}`,
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

func TestEncodeRejectsIncomplete(t *testing.T) {
	t.Parallel()
	e := sample()
	e.ID = ""
	if _, err := Encode(e); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "id") {
		t.Fatalf("err = %v", err)
	}
}

func TestAttributes(t *testing.T) {
	t.Parallel()
	a := sample().Attributes()
	if a[AttrSource] != "stripe" || a[AttrType] != "payment_intent.succeeded" || a[AttrKey] != "stripe:evt_1" {
		t.Fatalf("attributes = %v", a)
	}
}

func FuzzDecode(f *testing.F) {
	good, _ := Encode(sample())
	f.Add(good)
	f.Add([]byte(`{"v":1,"source":"s","id":"i","type":"t","body":"AAE=","bodyEncoding":"base64"}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := Decode(data)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error does not wrap ErrInvalid: %v", err)
			}
			return
		}
		// Whatever decodes must re-encode and decode to the same thing.
		again, err := Encode(e)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		e2, err := Decode(again)
		if err != nil {
			t.Fatalf("decode of re-encoded: %v", err)
		}
		if e2.Key() != e.Key() || e2.Type != e.Type || !bytes.Equal(e2.Body, e.Body) {
			t.Fatalf("round trip changed the envelope: %+v vs %+v", e, e2)
		}
	})
}

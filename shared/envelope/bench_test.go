package envelope

import (
	"bytes"
	"testing"
)

// benchEnvelope is a Stripe-shaped event of about 600 bytes with two headers.
func benchEnvelope() *Envelope {
	e := sample()
	e.Headers["stripe-signature"] = "t=1772366400,v1=5257a869e7ecebeda32affa62cdca3fa51cad7e77a0e56ff536d0ce8e108d8bd"
	e.Body = bytes.Repeat([]byte(`{"id":"pi_3OqJ0e2eZvKYlo2C1kqL0bX9","amount":2000},`), 12)
	return e
}

func BenchmarkEncode(b *testing.B) {
	e := benchEnvelope()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Encode(e); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeString(b *testing.B) {
	data, err := Encode(benchEnvelope())
	if err != nil {
		b.Fatal(err)
	}
	s := string(data)
	b.SetBytes(int64(len(s)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeString(s); err != nil {
			b.Fatal(err)
		}
	}
}

package webhook

import (
	"encoding/json"
	"strings"
	"testing"
)

// benchBody pads a fixture body to about size bytes with a nested object, the shape
// of a real provider event.
func benchBody(body string, size int) string {
	item := `{"id":"li_1Nv0ZX2eZvKYlo2C","object":"line_item","amount":2000,"currency":"usd","description":"T-shirt","metadata":{"sku":"ts-1"},"tax_rates":[]},`
	n := max((size-len(body))/len(item), 0)
	items := strings.TrimSuffix(strings.Repeat(item, n), ",")
	return strings.TrimSuffix(body, "}") + `,"data":{"lines":[` + items + `]}}`
}

// BenchmarkVerify measures Verify on a valid, signed request of about 1.5 KiB per
// scheme (its id and type found, headers kept).
func BenchmarkVerify(b *testing.B) {
	for _, f := range fixtures() {
		b.Run(f.name(), func(b *testing.B) {
			src := source(b, config(f.scheme, f.secrets, f.extra))
			body := []byte(benchBody(f.body, 1536))
			h := signed(b, f.scheme, f.secrets[0], f.extra, f.headers, string(body), t0)
			if _, err := src.Verify(h, body, t0); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := src.Verify(h, body, t0); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkVerifyRejected measures the refusals an attacker can cause cheaply.
func BenchmarkVerifyRejected(b *testing.B) {
	f := fixtures()[0] // stripe
	src := source(b, config(f.scheme, f.secrets, nil))
	body := []byte(benchBody(f.body, 1536))
	for _, tc := range []struct {
		name string
		h    map[string]string
	}{
		{"bad signature", signed(b, f.scheme, f.wrong, nil, nil, string(body), t0)},
		{"stale", signed(b, f.scheme, f.secrets[0], nil, nil, string(body), t0.Add(-3600e9))},
		{"missing", map[string]string{}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := src.Verify(tc.h, body, t0); err == nil {
					b.Fatal("accepted")
				}
			}
		})
	}
}

// BenchmarkScanObject measures the JSON scan alone.
func BenchmarkScanObject(b *testing.B) {
	body := []byte(benchBody(`{"id":"evt_1","object":"event","type":"invoice.paid"}`, 1536))
	q := jsonQuery{keys: [maxQueryKeys]string{"id", "type"}}
	var r jsonResult
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if err := scanObject(body, &q, &r); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkScanObjectVsJSON compares the scan with encoding/json finding the same
// two members of a 256 KiB body.
func BenchmarkScanObjectVsJSON(b *testing.B) {
	body := []byte(benchBody(`{"id":"evt_1","object":"event","type":"invoice.paid"}`, 256<<10))
	b.Run("scan", func(b *testing.B) {
		q := jsonQuery{keys: [maxQueryKeys]string{"id", "type"}}
		var r jsonResult
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		for b.Loop() {
			if err := scanObject(body, &q, &r); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding/json struct", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		for b.Loop() {
			var v struct {
				ID   json.RawMessage `json:"id"`
				Type json.RawMessage `json:"type"`
			}
			if err := json.Unmarshal(body, &v); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding/json map", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		for b.Loop() {
			var v map[string]json.RawMessage
			if err := json.Unmarshal(body, &v); err != nil {
				b.Fatal(err)
			}
		}
	})
}

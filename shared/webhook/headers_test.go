package webhook

import (
	"maps"
	"testing"
)

// Every Verify hands over a map of kept headers of its own: changing one (ingest adds
// the content type to it) changes neither the request nor the next Event.
func TestKeptHeadersAreTheCallers(t *testing.T) {
	t.Parallel()
	for _, f := range fixtures() {
		if len(f.kept) == 0 {
			continue
		}
		t.Run(f.name(), func(t *testing.T) {
			t.Parallel()
			src := source(t, config(f.scheme, f.secrets, f.extra))
			h := signed(t, f.scheme, f.secrets[0], f.extra, f.headers, f.body, t0)
			before := maps.Clone(h)
			first, err := src.Verify(h, []byte(f.body), t0)
			if err != nil {
				t.Fatal(err)
			}
			for k := range first.Headers {
				first.Headers[k] = "changed"
			}
			first.Headers["content-type"] = "text/plain"
			second, err := src.Verify(h, []byte(f.body), t0)
			if err != nil {
				t.Fatal(err)
			}
			if !maps.Equal(second.Headers, f.kept) || !maps.Equal(h, before) {
				t.Fatalf("second Event headers %v (want %v), request headers %v (were %v)", second.Headers, f.kept, h, before)
			}
		})
	}
}

//go:build signers

package signers

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/tenaz/tenaz/shared/envelope"
	"github.com/tenaz/tenaz/shared/forward"
	"github.com/tenaz/tenaz/shared/route"
	"github.com/tenaz/tenaz/shared/secrets"
)

// Tenaz's signed deliveries, as a destination sees them, verified by the official
// Standard Webhooks library (standardwebhooks on npm, through signers.mjs): during a
// rotation the route's secret holds the new and the old secret, and a destination
// holding either one alone accepts the delivery; a tampered body, or another secret,
// is refused.
func TestSignedDeliveriesVerifyWithStandardWebhooks(t *testing.T) {
	const (
		newSecret   = "whsec_bmV3LXNpZ25pbmcta2V5LWZvci10aGUtc2lnbmVycy1zdWl0ZQ=="
		oldSecret   = "whsec_b2xkLXNpZ25pbmcta2V5LWZvci10aGUtc2lnbmVycy1zdWl0ZQ=="
		otherSecret = "whsec_b3RoZXItc2lnbmluZy1rZXktbm90LWluLXRoZS1yb3V0ZQ=="
	)
	var mu sync.Mutex
	type delivery struct {
		headers map[string]string
		body    string
	}
	var got []delivery
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		h := map[string]string{}
		for k := range r.Header {
			h[strings.ToLower(k)] = r.Header.Get(k)
		}
		mu.Lock()
		got = append(got, delivery{h, string(b)})
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()

	values := map[string]string{"ORDERS_SIGNING_ROTATING": newSecret + " " + oldSecret, "ORDERS_SIGNING": newSecret}
	cache := secrets.NewCache(secrets.Stores{Env: secrets.Getenv(func(k string) string { return values[k] })}, secrets.Options{})
	e := &envelope.Envelope{Source: "stripe", ID: "evt_signers_1", Type: "invoice.paid",
		Body:    []byte(`{"type":"invoice.paid","data":{"amount":4200,"note":"caf\u00e9 ✓"}}`),
		Headers: map[string]string{"content-type": "application/json"}}
	for _, ref := range []string{"env:ORDERS_SIGNING_ROTATING", "env:ORDERS_SIGNING"} {
		cfgs, err := route.ParseConfig([]byte(`[{"source":"stripe","url":"` + srv.URL + `","signingSecret":"` + ref + `"}]`))
		if err != nil {
			t.Fatal(err)
		}
		h, err := forward.Build(cfgs[0], forward.Options{Secrets: cache})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := h.Handle(context.Background(), e, nil); err != nil {
			t.Fatalf("%s: %v", ref, err)
		}
	}
	rotating, single := got[0], got[1]
	if n := len(strings.Fields(rotating.headers["webhook-signature"])); n != 2 {
		t.Fatalf("rotating secret: %d signatures, want 2", n)
	}
	if rotating.headers["webhook-id"] != "stripe:evt_signers_1" {
		t.Fatalf("webhook-id %q", rotating.headers["webhook-id"])
	}

	tampered := strings.Replace(rotating.body, "4200", "4201", 1)
	cases := []struct {
		name string
		key  string
		d    delivery
		body string
		ok   bool
	}{
		{"rotation, destination holds the new secret", newSecret, rotating, rotating.body, true},
		{"rotation, destination holds the old secret", oldSecret, rotating, rotating.body, true},
		{"one secret", newSecret, single, single.body, true},
		{"one secret, destination holds the old secret", oldSecret, single, single.body, false},
		{"tampered body", newSecret, rotating, tampered, false},
		{"tampered body, old secret", oldSecret, rotating, tampered, false},
		{"another secret", otherSecret, rotating, rotating.body, false},
	}
	var jobs []job
	for _, tc := range cases {
		jobs = append(jobs, job{Op: "verify", Scheme: "standard-webhooks", Key: tc.key, Body: tc.body, Headers: tc.d.headers})
	}
	res, versions := runJobs(t, jobs)
	t.Logf("verified by standardwebhooks@%s", versions["standardwebhooks"])
	for i, tc := range cases {
		if res[i].OK != tc.ok {
			t.Errorf("%s: %s says ok=%v (%s), want %v", tc.name, res[i].By, res[i].OK, res[i].Error, tc.ok)
		}
	}
}

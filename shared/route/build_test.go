package route_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tenaz/tenaz/shared/envelope"
	"github.com/tenaz/tenaz/shared/forward"
	"github.com/tenaz/tenaz/shared/idempotency"
	"github.com/tenaz/tenaz/shared/route"
)

// fwd is the forward handler factory the functions build their routes with.
func fwd(rc route.Config) (route.Handler, error) { return forward.FromConfig(rc, nil), nil }

func TestBuildForwardAndNamedHandlers(t *testing.T) {
	t.Parallel()
	var hits int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits++
		if r.Header.Get("Idempotency-Key") != "stripe:evt_1" {
			w.WriteHeader(http.StatusBadRequest)
		}
	}))
	t.Cleanup(srv.Close)
	cs, err := route.ParseConfig([]byte(`[
		{"source":"stripe","url":"` + srv.URL + `"},
		{"source":"github","handler":"audit"}]`))
	if err != nil {
		t.Fatal(err)
	}
	var audited []string
	audit := route.HandlerFunc(func(_ context.Context, e *envelope.Envelope, _ *idempotency.Attempt) ([]byte, error) {
		audited = append(audited, e.Key())
		return nil, nil
	})
	reg, err := route.Build(cs, map[string]func(route.Config) (route.Handler, error){
		"forward": fwd,
		"audit":   func(route.Config) (route.Handler, error) { return audit, nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range []*envelope.Envelope{
		{Source: "stripe", ID: "evt_1", Type: "charge.succeeded", Body: []byte(`{"id":"evt_1"}`)},
		{Source: "github", ID: "d-1", Type: "push", Body: []byte(`{}`)},
	} {
		rt, ok, err := reg.Match(e.Source, e.Type, func() ([]byte, error) { return e.Body, nil })
		if err != nil || !ok {
			t.Fatalf("no route for %s", e.Source)
		}
		if _, err := rt.Handler.Handle(context.Background(), e, nil); err != nil {
			t.Fatalf("%s: %v", e.Source, err)
		}
	}
	if hits != 1 || len(audited) != 1 || audited[0] != "github:d-1" {
		t.Fatalf("forward hits %d, audited %v; want one each", hits, audited)
	}
	if _, ok, _ := reg.Match("shopify", "orders/create", nil); ok {
		t.Fatal("a source without a route matched")
	}

	if _, err := route.Build(cs, map[string]func(route.Config) (route.Handler, error){"forward": fwd}); err == nil || !strings.Contains(err.Error(), `"audit"`) {
		t.Fatalf("Build without the named handler: %v, want an error naming it", err)
	}
}

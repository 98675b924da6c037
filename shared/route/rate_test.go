package route_test

import (
	"strings"
	"testing"

	"github.com/tenaz/tenaz/shared/route"
)

func TestRatePerSecond(t *testing.T) {
	t.Parallel()
	cs, err := route.ParseConfig([]byte(`[
		{"source":"stripe","url":"https://orders.internal/hooks"},
		{"source":"github","url":"https://ci.internal/hooks","ratePerSecond":5},
		{"source":"shopify","url":"https://shop.internal/hooks","ratePerSecond":10000}]`))
	if err != nil {
		t.Fatal(err)
	}
	if got := []int{cs[0].RatePerSecond, cs[1].RatePerSecond, cs[2].RatePerSecond}; got[0] != 0 || got[1] != 5 || got[2] != 10000 {
		t.Fatalf("ratePerSecond parsed as %v, want [0 5 10000]", got)
	}
	reg, err := route.Build(cs, map[string]func(route.Config) (route.Handler, error){"forward": fwd})
	if err != nil {
		t.Fatal(err)
	}
	for i, rt := range reg.Routes() {
		if rt.RatePerSecond != cs[i].RatePerSecond {
			t.Fatalf("route %d (%s) built with RatePerSecond %d, want %d", i, rt.Source, rt.RatePerSecond, cs[i].RatePerSecond)
		}
	}

	bad := map[string]struct{ route, want string }{
		"negative":         {`{"source":"gh","url":"https://x","ratePerSecond":-1}`, "ratePerSecond -1 outside [0, 10000]"},
		"above the cap":    {`{"source":"gh","url":"https://x","ratePerSecond":10001}`, "ratePerSecond 10001 outside [0, 10000]"},
		"not an integer":   {`{"source":"gh","url":"https://x","ratePerSecond":2.5}`, "ratePerSecond"},
		"a window's name":  {`{"source":"gh","url":"https://x","dependency":"rate#crm#1893499200"}`, `dependency "rate#crm#1893499200"`},
		"a handler's name": {`{"source":"gh","handler":"rate#audit"}`, `dependency "rate#audit"`},
	}
	for name, c := range bad {
		_, err := route.ParseConfig([]byte(`[{"source":"ok","url":"https://ok.internal"},` + c.route + `]`))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one that says %q", name, err, c.want)
		} else if name != "not an integer" && !strings.Contains(err.Error(), "route 1 (gh)") {
			t.Errorf("%s: error %q does not name the route", name, err)
		}
	}
}

package redrive_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tenaz/tenaz/shared/redrive"
)

func TestParseRequest(t *testing.T) {
	t.Parallel()
	day := func(d int) time.Time { return time.Date(2026, 5, d, 0, 0, 0, 0, time.UTC) }
	cases := []struct {
		name string
		raw  string
		want redrive.Request
	}{
		{"empty object", "{}", redrive.Request{}},
		{"empty object with space", " {\n} ", redrive.Request{}},
		{"dry run", `{"dryRun": true}`, redrive.Request{DryRun: true}},
		{"everything", `{"dryRun": false, "max": 500, "ratePerSecond": 2.5, "filter": {"source": "stripe", "type": "payment_intent.*", "ids": ["evt_1", "stripe:evt_2"], "receivedAfter": "2026-05-01T00:00:00Z", "receivedBefore": "2026-05-02T00:00:00Z"}}`,
			redrive.Request{Max: 500, RatePerSecond: 2.5, Filter: redrive.Filter{
				Source: "stripe", Type: "payment_intent.*", IDs: []string{"evt_1", "stripe:evt_2"},
				ReceivedAfter: day(1), ReceivedBefore: day(2),
			}}},
		{"time with an offset", `{"filter": {"receivedAfter": "2026-05-01T02:00:00+02:00"}}`,
			redrive.Request{Filter: redrive.Filter{ReceivedAfter: day(1)}}},
		{"surrounding space", " \n{\"max\": 3}\n", redrive.Request{Max: 3}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			got, err := redrive.ParseRequest([]byte(c.raw))
			if err != nil {
				t.Fatal(err)
			}
			if !got.Filter.ReceivedAfter.Equal(c.want.Filter.ReceivedAfter) || !got.Filter.ReceivedBefore.Equal(c.want.Filter.ReceivedBefore) {
				t.Fatalf("window %v..%v, want %v..%v", got.Filter.ReceivedAfter, got.Filter.ReceivedBefore, c.want.Filter.ReceivedAfter, c.want.Filter.ReceivedBefore)
			}
			got.Filter.ReceivedAfter, got.Filter.ReceivedBefore = c.want.Filter.ReceivedAfter, c.want.Filter.ReceivedBefore
			if !reflect.DeepEqual(got, c.want) {
				t.Fatalf("got %+v, want %+v", got, c.want)
			}
		})
	}
}

func TestParseRequestRefusesAnEmptyRequest(t *testing.T) {
	t.Parallel()
	for _, raw := range []string{"", " \n\t", "null", " null\n"} {
		_, err := redrive.ParseRequest([]byte(raw))
		if !errors.Is(err, redrive.ErrEmptyRequest) || !errors.Is(err, redrive.ErrBadRequest) {
			t.Fatalf("ParseRequest(%q): %v, want ErrEmptyRequest (a bad request)", raw, err)
		}
		if !strings.Contains(err.Error(), "send {}") {
			t.Fatalf("ParseRequest(%q): %q does not say how to ask for everything", raw, err)
		}
	}
}

func TestParseRequestErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, raw string
		mention   string // the error names what was wrong
	}{
		{"unknown field", `{"dry": true}`, `"dry"`},
		{"unknown filter field", `{"filter": {"status": "failed"}}`, `"status"`},
		{"bad time", `{"filter": {"receivedAfter": "yesterday"}}`, "filter.receivedAfter"},
		{"date without time", `{"filter": {"receivedBefore": "2026-05-01"}}`, "filter.receivedBefore"},
		{"negative max", `{"max": -1}`, "max -1"},
		{"negative rate", `{"ratePerSecond": -0.5}`, "ratePerSecond"},
		{"window the wrong way", `{"filter": {"receivedAfter": "2026-05-02T00:00:00Z", "receivedBefore": "2026-05-01T00:00:00Z"}}`, "not before"},
		{"empty window", `{"filter": {"receivedAfter": "2026-05-01T00:00:00Z", "receivedBefore": "2026-05-01T00:00:00Z"}}`, "not before"},
		{"empty id", `{"filter": {"ids": ["evt_1", " "]}}`, "filter.ids[1]"},
		{"too many ids", `{"filter": {"ids": [` + strings.Repeat(`"x",`, redrive.MaxIDs) + `"y"]}}`, "filter.ids"},
		{"trailing data", `{"max": 1} {"max": 2}`, "after the request"},
		{"wrong type", `{"max": "10"}`, "max: a JSON string, want a whole number"},
		{"fractional max", `{"max": 2.5}`, "max: a JSON number 2.5, want a whole number"},
		{"not an object", `[]`, "array"},
		{"malformed", `{"max": `, "not complete JSON"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			_, err := redrive.ParseRequest([]byte(c.raw))
			if !errors.Is(err, redrive.ErrBadRequest) {
				t.Fatalf("error %v, want ErrBadRequest", err)
			}
			if !strings.Contains(err.Error(), c.mention) {
				t.Fatalf("error %q does not mention %q", err, c.mention)
			}
		})
	}
}

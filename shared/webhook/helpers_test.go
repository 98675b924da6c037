package webhook

import (
	"encoding/json"
	"errors"
	"maps"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

// t0 is the clock of most tests.
var t0 = time.Unix(1700000000, 0)

// config builds one source's JSON configuration.
func config(scheme string, secrets []string, extra map[string]any) string {
	m := map[string]any{"scheme": scheme, "secrets": secrets}
	maps.Copy(m, extra)
	b, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// source parses a one-source configuration named "src".
func source(t testing.TB, cfg string) *Source {
	t.Helper()
	srcs, err := ParseSources([]byte(`{"src":` + cfg + `}`))
	if err != nil {
		t.Fatalf("ParseSources(%s): %v", cfg, err)
	}
	return srcs["src"]
}

// signed returns base plus the headers Sign adds for body at at, signing as a source
// of scheme whose only secret is secret.
func signed(t testing.TB, scheme, secret string, extra map[string]any, base map[string]string, body string, at time.Time) map[string]string {
	t.Helper()
	h := maps.Clone(base)
	if h == nil {
		h = map[string]string{}
	}
	if err := source(t, config(scheme, []string{secret}, extra)).Sign(h, []byte(body), at); err != nil {
		t.Fatalf("Sign: %v", err)
	}
	return h
}

// verifyCase is one Verify call and what it must give.
type verifyCase struct {
	name    string
	src     *Source
	headers map[string]string
	body    string
	now     time.Time
	// want: an error code, or the event
	code               string
	id, typ, challenge string
	keptHeaders        map[string]string
	secrets            []string // must not appear in an error message
}

var wantStatus = map[string]int{
	CodeMissingSignature: http.StatusUnauthorized,
	CodeBadSignature:     http.StatusUnauthorized,
	CodeStaleTimestamp:   http.StatusUnauthorized,
	CodeMalformedJSON:    http.StatusBadRequest,
	CodeMissingID:        http.StatusBadRequest,
	CodeMissingType:      http.StatusBadRequest,
	CodeInvalidID:        http.StatusBadRequest,
	CodeInvalidType:      http.StatusBadRequest,
	CodeNoEventID:        http.StatusUnprocessableEntity,
}

var digestText = regexp.MustCompile(`[0-9a-fA-F]{64}|[A-Za-z0-9+/]{43}=?`)

func runVerifyCases(t *testing.T, cases []verifyCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			now := tc.now
			if now.IsZero() {
				now = t0
			}
			ev, err := tc.src.Verify(tc.headers, []byte(tc.body), now)
			if tc.code != "" {
				checkError(t, err, tc.code, tc)
				if !isZeroEvent(ev) {
					t.Errorf("Verify returned event %+v with error", ev)
				}
				return
			}
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if ev.ID != tc.id || ev.Type != tc.typ || ev.Challenge != tc.challenge {
				t.Errorf("event = id %q type %q challenge %q, want %q %q %q", ev.ID, ev.Type, ev.Challenge, tc.id, tc.typ, tc.challenge)
			}
			if tc.keptHeaders != nil && !maps.Equal(ev.Headers, tc.keptHeaders) {
				t.Errorf("headers = %v, want %v", ev.Headers, tc.keptHeaders)
			}
			for k := range ev.Headers {
				if strings.Contains(k, "signature") || strings.Contains(k, "hmac") {
					t.Errorf("kept signature header %s", k)
				}
			}
		})
	}
}

func isZeroEvent(ev Event) bool {
	return ev.ID == "" && ev.Type == "" && ev.Challenge == "" && ev.Headers == nil
}

// checkError asserts err is an *Error with code, the matching status, and a message
// free of secrets, signatures and the body.
func checkError(t *testing.T, err error, code string, tc verifyCase) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("Verify error = %v, want *Error %s", err, code)
	}
	if e.Code != code || e.Status != wantStatus[code] {
		t.Fatalf("Verify error = %d %s (%q), want %d %s", e.Status, e.Code, e.Message, wantStatus[code], code)
	}
	if e.Message == "" {
		t.Error("empty message")
	}
	for _, s := range tc.secrets {
		if strings.Contains(e.Message, s) || strings.Contains(e.Error(), s) {
			t.Errorf("message %q contains secret %q", e.Message, s)
		}
		if b, ok := strings.CutPrefix(s, "whsec_"); ok && strings.Contains(e.Message, b) {
			t.Errorf("message %q contains key %q", e.Message, b)
		}
	}
	if m := digestText.FindString(e.Message); m != "" {
		t.Errorf("message %q holds something like a signature: %q", e.Message, m)
	}
	if len(tc.body) > 8 && strings.Contains(e.Message, tc.body) {
		t.Errorf("message %q contains the body", e.Message)
	}
}

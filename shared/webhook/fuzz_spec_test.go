package webhook

import (
	"bytes"
	"errors"
	"maps"
	"strings"
	"testing"
	"time"
)

// FuzzSpecSignature holds the spec header parser to its contract on any input: no
// panic; on success at least one and at most 8 signatures, each of the length the
// algorithm gives; the timestamp item, when the layout has one, without separators.
func FuzzSpecSignature(f *testing.F) {
	names := []string{SchemePaddle, SchemeWorkOS, SchemeCalendly, SchemeTwitch, SchemeTypeform, SchemeDiscord, SchemeSendGrid, SchemeIntercom}
	d := strings.Repeat("ab", 32)
	for i := range names {
		f.Add(uint8(i), "ts=1;h1="+d)
		f.Add(uint8(i), "t=1, v1="+d+", v1="+d)
		f.Add(uint8(i), "sha256="+d)
		f.Add(uint8(i), "sha1="+strings.Repeat("0", 40))
		f.Add(uint8(i), "sha256=q83vEjRWeJCrze8SNFZ4kKvN7xI0VniQq83vEjRWeJA=")
		f.Add(uint8(i), strings.Repeat("0", 128))
		f.Add(uint8(i), "MEUCIQ==")
	}
	specs := make([]*spec, len(names))
	for i, n := range names {
		specs[i] = presets[n]()
	}
	f.Fuzz(func(t *testing.T, which uint8, v string) {
		p := specs[int(which)%len(specs)]
		s, err := parseSpecSig(p, v)
		if err != nil {
			if err.Code != CodeBadSignature || err.Status != 401 || err.Message == "" {
				t.Fatalf("bad error %+v", err)
			}
			return
		}
		if len(s.sigs) == 0 || len(s.sigs) > maxSignatures {
			t.Fatalf("%d signatures", len(s.sigs))
		}
		for _, d := range s.sigs {
			switch p.method {
			case methodEd25519:
				if len(d) != 64 {
					t.Fatalf("ed25519 signature of %d bytes", len(d))
				}
			case methodECDSA:
				if len(d) == 0 || len(d) > maxSigBytes {
					t.Fatalf("ecdsa signature of %d bytes", len(d))
				}
			default:
				if len(d) != p.alg.size() {
					t.Fatalf("signature of %d bytes, want %d", len(d), p.alg.size())
				}
			}
		}
		if strings.ContainsAny(s.ts, ",;") {
			t.Fatalf("timestamp %q holds a separator", s.ts)
		}
	})
}

// render writes a parsed template back as text.
func render(parts []part) string {
	names := map[uint8]string{varMethod: "method", varURL: "url", varID: "id", varTimestamp: "timestamp", varBody: "body", varParams: "params"}
	var b strings.Builder
	for _, p := range parts {
		if p.v == varLiteral {
			b.WriteString(strings.NewReplacer("{", "{{", "}", "}}").Replace(p.lit))
		} else {
			b.WriteString("{" + names[p.v] + "}")
		}
	}
	return b.String()
}

// FuzzTemplate: any template parses or is refused without a panic, and one that
// parses reads the same once written back.
func FuzzTemplate(f *testing.F) {
	for _, s := range []string{"{timestamp}.{body}", "v0:{timestamp}:{body}", "{url}{body}", "{method}{url}{body}{timestamp}", "{{x}}{id}", "{", "}", "{nope}", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		parts, err := parseTemplate(s)
		if err != nil {
			return
		}
		again, err := parseTemplate(render(parts))
		if err != nil || render(again) != render(parts) {
			t.Fatalf("%q: parsed %v, written back %q, parsed again %v (%v)", s, parts, render(parts), again, err)
		}
		for i := 1; i < len(parts); i++ {
			if parts[i].v == varLiteral && parts[i-1].v == varLiteral {
				t.Fatalf("%q: two literal parts in a row", s)
			}
		}
	})
}

// FuzzVerifyPresets drives Verify for every preset with any body: what Tenaz signed
// within the tolerance is never refused for its signature; outside it, never
// accepted; a changed body or a replaced signature header is never accepted unless the
// scheme leaves the body unsigned or the new header carries the same signature; every
// failure is a well-formed *Error that leaks no secret.
func FuzzVerifyPresets(f *testing.F) {
	cases := presetCases()
	for i, c := range cases {
		f.Add(uint8(i), []byte(c.body), "", int64(0), true)
		f.Add(uint8(i), []byte(c.body), "v0="+strings.Repeat("0", 64), int64(-301), false)
	}
	verifiers := make([]*Source, len(cases))
	signers := make([]*Source, len(cases))
	for i, c := range cases {
		v := c.verifyWith
		if v == "" {
			v = c.secret
		}
		verifiers[i] = source(f, config(c.scheme, []string{v}, c.extra))
		signers[i] = source(f, config(c.scheme, []string{c.secret}, c.extra))
	}
	f.Fuzz(func(t *testing.T, which uint8, body []byte, sigValue string, skew int64, tamper bool) {
		i := int(which) % len(cases)
		c, src := cases[i], verifiers[i]
		skew %= 1000
		h := maps.Clone(c.headers)
		if h == nil {
			h = map[string]string{}
		}
		signedBody, err := signers[i].SignBody(h, body, t0.Add(time.Duration(skew)*time.Second))
		if err != nil {
			return // mailgun signs only JSON objects
		}
		check := func(h map[string]string, body []byte) *Error {
			ev, err := src.Verify(h, body, t0)
			if err == nil {
				if ev.Reply == nil && (ev.ID == "" || ev.Type == "") {
					t.Fatalf("accepted without id or type: %+v", ev)
				}
				return nil
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v is not an *Error", err)
			}
			if wantStatus[e.Code] == 0 || e.Status != wantStatus[e.Code] || e.Message == "" {
				t.Fatalf("bad error %+v", e)
			}
			if strings.Contains(e.Message, c.secret) || strings.Contains(e.Message, c.wrong) {
				t.Fatalf("message %q leaks a secret", e.Message)
			}
			return e
		}
		err1 := check(h, signedBody)
		timely := src.tolerance == 0 || skew >= -src.tolerance && skew <= src.tolerance
		switch {
		case err1 == nil && !timely:
			t.Fatalf("accepted a request signed %d s off", skew)
		case err1 != nil && err1.Status == 401 && timely && !(c.scheme == SchemeTwilio && err1.Code == CodeMalformedJSON):
			t.Fatalf("signed request refused: %v", err1)
		}
		if !timely {
			return
		}
		if tamper && c.scheme != SchemeGitLab && c.scheme != SchemePostmark && c.scheme != SchemeMailgun {
			changed := append(bytes.Clone(signedBody), ' ')
			if err := check(h, changed); err == nil || err.Status != 401 {
				t.Fatalf("changed body: %v", err)
			}
		}
		p := src.sp
		if sigValue != "" && p != nil && (p.method == methodHMAC || p.method == methodEd25519) {
			orig := h[p.sigHeader]
			h[p.sigHeader] = sigValue
			if err := check(h, signedBody); err == nil && !sameSignature(p, orig, sigValue) {
				t.Fatalf("accepted %s = %q (signed %q)", p.sigHeader, sigValue, orig)
			}
		}
	})
}

// sameSignature reports whether header value v carries a signature of orig.
func sameSignature(p *spec, orig, v string) bool {
	o, err1 := parseSpecSig(p, orig)
	n, err2 := parseSpecSig(p, v)
	if err1 != nil || err2 != nil {
		return false
	}
	for _, a := range o.sigs {
		for _, b := range n.sigs {
			if bytes.Equal(a, b) {
				return true
			}
		}
	}
	return false
}

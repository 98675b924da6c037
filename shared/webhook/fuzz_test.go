package webhook

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"maps"
	"strings"
	"testing"
	"time"
)

// The reference parsers below are the plainest reading of each header format, built
// on the standard library; the fuzz targets hold the allocation-free parsers to them.

func refHexDigest(s string) (digest, bool) {
	var d digest
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != len(d) {
		return d, false
	}
	copy(d[:], b)
	return d, true
}

func refBase64Digest(s string) (digest, bool) {
	var d digest
	// encoding/base64 skips CR and LF; a header value cannot hold them, and the
	// parser refuses them.
	if strings.ContainsAny(s, "\r\n") {
		return d, false
	}
	b, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil {
		b, err = base64.RawStdEncoding.Strict().DecodeString(s)
	}
	if err != nil || len(b) != len(d) {
		return d, false
	}
	copy(d[:], b)
	return d, true
}

func refStripe(v string) (t string, sigs []digest, ok bool) {
	nt := 0
	for _, item := range strings.Split(v, ",") {
		kv := strings.SplitN(item, "=", 2)
		if len(kv) != 2 {
			continue
		}
		k, val := strings.TrimSpace(kv[0]), strings.TrimSpace(kv[1])
		switch k {
		case "t":
			nt++
			t = val
		case "v1":
			if d, ok := refHexDigest(val); ok {
				sigs = append(sigs, d)
			}
		}
	}
	if nt != 1 || t == "" || len(t) > 18 || strings.Trim(t, "0123456789") != "" || len(sigs) == 0 || len(sigs) > maxSignatures {
		return "", nil, false
	}
	return t, sigs, true
}

func sameSigs(s sigSet, want []digest) bool {
	if s.n != len(want) {
		return false
	}
	for i := range want {
		if s.d[i] != want[i] {
			return false
		}
	}
	return true
}

func FuzzStripeSignature(f *testing.F) {
	for _, s := range []string{
		"t=1700000000,v1=ff59e5e640e087e56296a6199f9445e1a18e17f108458bf718ee97fb974e8d2f",
		"t=1700000000,v1=ff59e5e640e087e56296a6199f9445e1a18e17f108458bf718ee97fb974e8d2f,v0=6ffbb59b2300aae63f272406069a9788598b792a944a07aba816edb039989a39",
		"v1=zz,t=1,v1=FF59E5E640E087E56296A6199F9445E1A18E17F108458BF718EE97FB974E8D2F",
		"t=1,t=2", "t=,v1=", "", ",,,=,==",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		got, err := parseStripeSignature(v)
		wantT, wantSigs, ok := refStripe(v)
		if (err == nil) != ok {
			t.Fatalf("parseStripeSignature(%q) error = %v, reference ok = %v", v, err, ok)
		}
		if err != nil {
			if err.Code != CodeBadSignature {
				t.Fatalf("code %s", err.Code)
			}
			return
		}
		if got.tRaw != wantT || !sameSigs(got.v1, wantSigs) {
			t.Fatalf("parseStripeSignature(%q) = %q %v, reference %q %v", v, got.tRaw, got.v1.d[:got.v1.n], wantT, wantSigs)
		}
		if got.t < 0 || !strings.Contains(v, got.tRaw) {
			t.Fatalf("timestamp %d (%q) not from %q", got.t, got.tRaw, v)
		}
	})
}

func FuzzSlackSignature(f *testing.F) {
	for _, s := range []string{
		"v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503",
		" v0=A2114D57B48EAC39B9AD189DD8316235A7B4A8D21A10BD27519666489C69B503 ",
		"v1=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503", "v0=", "v0",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		d, err := parseSlackSignature(v)
		hexPart, hasPrefix := strings.CutPrefix(strings.TrimSpace(v), "v0=")
		want, ok := refHexDigest(hexPart)
		ok = ok && hasPrefix
		if (err == nil) != ok || (ok && d != want) {
			t.Fatalf("parseSlackSignature(%q) = %x, %v; reference %x, %v", v, d, err, want, ok)
		}
	})
}

func FuzzStandardSignature(f *testing.F) {
	for _, s := range []string{
		"v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
		"v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE v1a,abcd v2,x",
		"v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OF= v1,fJBl5e//JReWIrZEOZdlBkqJVDj9vv9Edap8Wdwa2lg=",
		"v1,", "v1", " ",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		got, err := parseStandardSignature(v)
		var want []digest
		for _, e := range strings.Fields(v) {
			if b, ok := strings.CutPrefix(e, "v1,"); ok {
				if d, ok := refBase64Digest(b); ok {
					want = append(want, d)
				}
			}
		}
		ok := len(want) > 0 && len(want) <= maxSignatures
		if (err == nil) != ok || (ok && !sameSigs(got, want)) {
			t.Fatalf("parseStandardSignature(%q) = %v, %v; reference %v", v, got.d[:got.n], err, want)
		}
	})
}

func FuzzPlainSignature(f *testing.F) {
	for _, s := range []struct {
		v, prefix string
		b64       bool
	}{
		{"sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17", "sha256=", false},
		{"SHA256=757107EA0EB2509FC211221CCE984B8A37570B6D7586C22C46F4379C8B043E17", "sha256=", false},
		{"SyvSL8CX+8UsneCstc7LwfTXdeMgGD9VFxZRFzooK0s=", "", true},
		{"SyvSL8CX+8UsneCstc7LwfTXdeMgGD9VFxZRFzooK0t=", "", true},
		{"v1=Azd8uVEUYIehV+6oq4ynkwwW52EHGspqo/smq6FfziE", "v1=", true},
		{"sha256=", "sha256=", false},
	} {
		f.Add(s.v, s.prefix, s.b64)
	}
	f.Fuzz(func(t *testing.T, v, prefix string, b64 bool) {
		d, err := parsePlainSignature(v, prefix, b64, "X-Sig")
		tv := strings.TrimSpace(v)
		var want digest
		ok := len(tv) >= len(prefix) && strings.EqualFold(tv[:len(prefix)], prefix)
		if ok {
			if b64 {
				want, ok = refBase64Digest(tv[len(prefix):])
			} else {
				want, ok = refHexDigest(tv[len(prefix):])
			}
		}
		if (err == nil) != ok || (ok && d != want) {
			t.Fatalf("parsePlainSignature(%q, %q, %v) = %x, %v; reference %x, %v", v, prefix, b64, d, err, want, ok)
		}
		if ok {
			// What the encoders write, the parser reads back.
			enc := prefix + string(appendHex(nil, &d))
			if b64 {
				enc = prefix + string(appendBase64(nil, &d))
			}
			if back, err := parsePlainSignature(enc, prefix, b64, "X-Sig"); err != nil || back != d {
				t.Fatalf("round trip of %x through %q: %x, %v", d, enc, back, err)
			}
		}
	})
}

// FuzzVerify drives Verify end to end for every fixture source: a request signed by
// Sign never fails its signature check; a changed body, signature header or clock is
// never accepted unless it is equivalent; every failure is a well-formed *Error that
// leaks no secret.
func FuzzVerify(f *testing.F) {
	fx := fixtures()
	for i, x := range fx {
		f.Add(uint8(i), []byte(x.body), "", int64(0), false)
		f.Add(uint8(i), []byte(x.noID.body), "garbage", int64(-301), true)
		f.Add(uint8(i), []byte(`{"id":"evt_\u0031","event_id":"E","type":"t","event":{"type":"n"},"event_type":"x","challenge":"c"}`), "v1,", int64(300), false)
	}
	srcs := make([]*Source, len(fx))
	for i, x := range fx {
		srcs[i] = source(f, config(x.scheme, x.secrets, x.extra))
	}
	f.Fuzz(func(t *testing.T, which uint8, body []byte, sigValue string, skew int64, tamper bool) {
		i := int(which) % len(fx)
		x, src := fx[i], srcs[i]
		skew %= 1000
		h := maps.Clone(x.headers)
		if h == nil {
			h = map[string]string{}
		}
		if err := src.Sign(h, body, t0.Add(time.Duration(skew)*time.Second)); err != nil {
			t.Fatal(err)
		}
		check := func(h map[string]string, body []byte) (Event, *Error) {
			ev, err := src.Verify(h, body, t0)
			if err == nil {
				if ev.Challenge == "" && (ev.ID == "" || ev.Type == "") {
					t.Fatalf("accepted without id or type: %+v", ev)
				}
				return ev, nil
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v is not an *Error", err)
			}
			if wantStatus[e.Code] == 0 || e.Status != wantStatus[e.Code] || e.Message == "" {
				t.Fatalf("bad error %+v", e)
			}
			for _, s := range x.secrets {
				if strings.Contains(e.Message, s) {
					t.Fatalf("message %q leaks a secret", e.Message)
				}
			}
			return Event{}, e
		}

		_, err := check(h, body)
		timely := skew >= -src.tolerance && skew <= src.tolerance || src.tolerance == 0
		switch {
		case err == nil && !timely:
			t.Fatalf("accepted a request signed %d s off", skew)
		case err != nil && err.Status == 401 && timely:
			t.Fatalf("signed request refused: %v", err)
		case err != nil && err.Code == CodeStaleTimestamp && timely:
			t.Fatalf("stale at skew %d", skew)
		}
		if !timely {
			return
		}
		if tamper {
			changed := append(append([]byte{}, body...), ' ')
			if _, err := check(h, changed); err == nil || err.Status != 401 {
				t.Fatalf("changed body: %v", err)
			}
		}
		if sigValue != "" {
			orig := h[src.sigHeader]
			h[src.sigHeader] = sigValue
			if _, err := check(h, body); err == nil && !equivalentSignature(src, orig, sigValue) {
				t.Fatalf("accepted %s = %q (signed %q)", src.sigHeader, sigValue, orig)
			}
		}
	})
}

// equivalentSignature reports whether header value v carries the signature of the
// signed value orig: the only way a replaced header may pass.
func equivalentSignature(src *Source, orig, v string) bool {
	switch src.kind {
	case kindStripe:
		o, _ := parseStripeSignature(orig)
		n, err := parseStripeSignature(v)
		return err == nil && n.tRaw == o.tRaw && containsSig(n.v1, o.v1.d[0])
	case kindSlack:
		o, _ := parseSlackSignature(orig)
		n, err := parseSlackSignature(v)
		return err == nil && n == o
	case kindStandard:
		o, _ := parseStandardSignature(orig)
		n, err := parseStandardSignature(v)
		return err == nil && containsSig(n, o.d[0])
	}
	o, _ := parsePlainSignature(orig, src.prefix, src.base64, "")
	n, err := parsePlainSignature(v, src.prefix, src.base64, "")
	return err == nil && n == o
}

func containsSig(s sigSet, d digest) bool {
	for i := 0; i < s.n; i++ {
		if s.d[i] == d {
			return true
		}
	}
	return false
}

package webhook

import "strings"

// maxSignatures is how many signatures one header may carry (Stripe and Standard
// Webhooks send one per active secret: one, or two during a rotation).
const maxSignatures = 8

// sigSet is the well-formed signatures a header carries, in order.
type sigSet struct {
	n int
	d [maxSignatures]digest
}

func (s *sigSet) add(d digest) bool {
	if s.n == maxSignatures {
		return false
	}
	s.d[s.n] = d
	s.n++
	return true
}

// maxTimestampDigits bounds a Unix time in seconds: 18 digits cannot overflow int64.
const maxTimestampDigits = 18

// parseUnix parses a Unix time in seconds: decimal digits only, no sign.
func parseUnix(s string) (int64, bool) {
	if len(s) == 0 || len(s) > maxTimestampDigits {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// stripeSignature is a parsed Stripe-Signature header.
type stripeSignature struct {
	t    int64
	tRaw string // the timestamp as sent: it is what was signed
	v1   sigSet
}

// parseStripeSignature parses "t=<unix>,v1=<hex>[,v1=<hex>...]". Items of other
// schemes (v0, test-mode extras) are ignored, and so is a v1 value that is not 64 hex
// digits: it could never match. It needs exactly one t and at least one good v1.
func parseStripeSignature(v string) (stripeSignature, *Error) {
	var s stripeSignature
	seenT := false
	for item := range strings.SplitSeq(v, ",") {
		key, val, ok := strings.Cut(item, "=")
		if !ok {
			continue
		}
		key, val = strings.TrimSpace(key), strings.TrimSpace(val)
		switch key {
		case "t":
			if seenT {
				return s, errBadSignature("Stripe-Signature has more than one timestamp (t=)")
			}
			seenT = true
			t, ok := parseUnix(val)
			if !ok {
				return s, errBadSignature("Stripe-Signature timestamp (t=) is not a Unix time in seconds")
			}
			s.t, s.tRaw = t, val
		case "v1":
			d, ok := decodeHexDigest(val)
			if !ok {
				continue
			}
			if !s.v1.add(d) {
				return s, errBadSignature("Stripe-Signature has more than 8 v1 signatures")
			}
		}
	}
	if !seenT {
		return s, errBadSignature("Stripe-Signature has no timestamp (t=)")
	}
	if s.v1.n == 0 {
		return s, errBadSignature("Stripe-Signature has no v1 signature")
	}
	return s, nil
}

// parseSlackSignature parses "v0=<64 hex digits>".
func parseSlackSignature(v string) (digest, *Error) {
	v = strings.TrimSpace(v)
	if hex, ok := strings.CutPrefix(v, "v0="); ok {
		if d, ok := decodeHexDigest(hex); ok {
			return d, nil
		}
	}
	return digest{}, errBadSignature("X-Slack-Signature is not v0=<64 hex digits>")
}

// parseStandardSignature parses a webhook-signature header: space-separated
// "<version>,<base64>" entries. Entries of other versions (v1a, asymmetric) are
// ignored, and so is a v1 entry that is not the base64 of 32 bytes: it could never
// match. It needs at least one good v1 entry.
func parseStandardSignature(v string) (sigSet, *Error) {
	var s sigSet
	for entry := range strings.FieldsSeq(v) {
		b64, ok := strings.CutPrefix(entry, "v1,")
		if !ok {
			continue
		}
		d, ok := decodeBase64Digest(b64)
		if !ok {
			continue
		}
		if !s.add(d) {
			return s, errBadSignature("webhook-signature has more than 8 v1 signatures")
		}
	}
	if s.n == 0 {
		return s, errBadSignature("webhook-signature has no v1 signature")
	}
	return s, nil
}

// parsePlainSignature parses a header holding one signature: prefix (matched without
// regard to case) then the digest in hex or standard base64. name is the header's
// name for the error message.
func parsePlainSignature(v, prefix string, base64 bool, name string) (digest, *Error) {
	v = strings.TrimSpace(v)
	if len(v) >= len(prefix) && strings.EqualFold(v[:len(prefix)], prefix) {
		var d digest
		var ok bool
		if base64 {
			d, ok = decodeBase64Digest(v[len(prefix):])
		} else {
			d, ok = decodeHexDigest(v[len(prefix):])
		}
		if ok {
			return d, nil
		}
	}
	enc := "<64 hex digits>"
	if base64 {
		enc = "<base64 of 32 bytes>"
	}
	return digest{}, errBadSignature(name + " is not " + prefix + enc)
}

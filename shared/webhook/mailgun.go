package webhook

import "time"

// verifyMailgun checks a signature carried in the body: signature.signature is the hex
// HMAC-SHA256 of signature.timestamp followed by signature.token. The body is parsed
// before the signature is checked, the one exception to verify-before-parse: the
// signature is inside it.
func (s *Source) verifyMailgun(body []byte, now time.Time) (int, *Error) {
	doc, err := parseDoc(body)
	if err != nil {
		return 0, err
	}
	get := func(name string) string {
		v, _ := doc.text([]string{"signature", name}, false)
		return v
	}
	ts, token, sig := get("timestamp"), get("token"), get("signature")
	if ts == "" || token == "" || sig == "" {
		return 0, errMissingSignature(`body has no "signature" object with timestamp, token and signature strings`)
	}
	d, ok := s.sp.decodeSig(sig)
	if !ok {
		return 0, errBadSignature("signature.signature is not 64 hex digits")
	}
	ms, ok := parseTime(ts, unitSeconds)
	if !ok {
		return 0, errBadSignature("signature.timestamp is not a Unix time in seconds")
	}
	if err := s.checkSpecTime(ms, now); err != nil {
		return 0, err
	}
	if i := s.matchHMAC([]byte(ts+token), [][]byte{d}); i >= 0 {
		return i, nil
	}
	return 0, errBadSignature("signature.signature does not match: the body or the signing key differs")
}

package webhook

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"time"
)

// Sign adds valid signature headers for body to headers, as the provider would send
// them, using the source's first secret and now: the signature, the timestamp header
// of the schemes that sign one, and an id header when the scheme takes the id only
// from a header and headers has none. A missing id is derived from body and now, so the same
// call gives the same id. Type headers (X-GitHub-Event, X-Shopify-Topic, a generic
// typeHeader) are the caller's to set. Names are lower case. Sign serves tests, sample
// generation and the send tool; Verify accepts what it produces. Public-key schemes
// sign only when their first secret is a private key; mailgun and linear need
// SignBody, which also writes into the body.
func (s *Source) Sign(headers map[string]string, body []byte, now time.Time) error {
	if headers == nil {
		return errors.New("sign " + s.name + ": headers map is nil")
	}
	if s.sp != nil {
		return s.signSpec(headers, body, now)
	}
	ts := strconv.FormatInt(now.Unix(), 10)
	m := s.ring.get()
	defer s.ring.put(m)
	switch s.kind {
	case kindStripe:
		d := s.ring.mac(m, 0, [4]string{ts, "."}, body)
		headers[hStripeSignature] = "t=" + ts + ",v1=" + string(appendHex(nil, &d))
	case kindSlack:
		d := s.ring.mac(m, 0, [4]string{"v0:", ts, ":"}, body)
		headers[hSlackTimestamp] = ts
		headers[hSlackSignature] = "v0=" + string(appendHex(nil, &d))
	case kindStandard:
		hID, hTS, hSig := hStdID, hStdTimestamp, hStdSignature
		if s.svix {
			hID, hTS, hSig = hSvixID, hSvixTimestamp, hSvixSignature
		}
		id := strings.TrimSpace(headers[hID])
		if id == "" {
			id = "msg_" + derivedID(body, now)
			headers[hID] = id
		}
		d := s.ring.mac(m, 0, [4]string{id, ".", ts, "."}, body)
		headers[hTS] = ts
		headers[hSig] = "v1," + string(appendBase64(nil, &d))
	default:
		if s.idHeader != "" && s.idField == "" && strings.TrimSpace(headers[s.idHeader]) == "" {
			headers[s.idHeader] = uuidFormat(derivedID(body, now))
		}
		d := s.ring.mac(m, 0, [4]string{}, body)
		sig := []byte(s.prefix)
		if s.base64 {
			sig = appendBase64(sig, &d)
		} else {
			sig = appendHex(sig, &d)
		}
		headers[s.sigHeader] = string(sig)
	}
	return nil
}

// derivedID is 32 hex digits from a hash of now and body.
func derivedID(body []byte, now time.Time) string {
	h := sha256.New()
	var t [8]byte
	binary.BigEndian.PutUint64(t[:], uint64(now.UnixNano()))
	h.Write(t[:])
	h.Write(body)
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// uuidFormat spells 32 hex digits as a UUID: 8-4-4-4-12.
func uuidFormat(h string) string {
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
)

// handshake answers a provider's endpoint check. ok is true when the request was one.
func (s *Source) handshake(headers map[string]string, d doc, key int) (Event, bool, *Error) {
	switch s.sp.handshake {
	case handshakeZoom:
		if t, _ := d.text([]string{"event"}, false); t != zoomURLValidation {
			return Event{}, false, nil
		}
		plain, _ := d.text([]string{"payload", "plainToken"}, false)
		if plain == "" {
			return Event{}, false, errMalformed(`endpoint.url_validation without a "payload.plainToken" string`)
		}
		m := hmac.New(sha256.New, s.keys.hmac[key])
		m.Write([]byte(plain))
		b, _ := json.Marshal(map[string]string{"plainToken": plain, "encryptedToken": hex.EncodeToString(m.Sum(nil))})
		return Event{Type: zoomURLValidation, Reply: &Reply{ContentType: "application/json", Body: b}}, true, nil
	case handshakeTwitch:
		if strings.TrimSpace(headers["twitch-eventsub-message-type"]) != twitchVerification {
			return Event{}, false, nil
		}
		c, _ := d.text([]string{"challenge"}, false)
		if c == "" {
			return Event{}, false, errMalformed(`webhook_callback_verification without a "challenge" string`)
		}
		return Event{Type: twitchVerification, Reply: &Reply{ContentType: "text/plain", Body: []byte(c)}}, true, nil
	case handshakeDiscord:
		if t, _ := d.text([]string{"type"}, true); t != "1" {
			return Event{}, false, nil
		}
		return Event{Type: "PING", Reply: &Reply{ContentType: "application/json", Body: []byte(`{"type":1}`)}}, true, nil
	}
	return Event{}, false, nil
}

// Handshake event types.
const (
	zoomURLValidation  = "endpoint.url_validation"
	twitchVerification = "webhook_callback_verification"
)

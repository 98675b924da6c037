package webhook

// Preset scheme names. Each is a spec below, except clerk and resend, which are
// Standard Webhooks under Svix's header names (source.go).
const (
	SchemeHMAC      = "hmac" // the generic spec, configured field by field
	SchemeDiscord   = "discord"
	SchemeSendGrid  = "sendgrid"
	SchemeTwilio    = "twilio"
	SchemeGitLab    = "gitlab"
	SchemePostmark  = "postmark"
	SchemeZoom      = "zoom"
	SchemeTwitch    = "twitch"
	SchemePaddle    = "paddle"
	SchemeSquare    = "square"
	SchemeHubSpot   = "hubspot-v3"
	SchemeLinear    = "linear"
	SchemeIntercom  = "intercom"
	SchemeBitbucket = "bitbucket"
	SchemeVercel    = "vercel"
	SchemeWorkOS    = "workos"
	SchemeCalendly  = "calendly"
	SchemeTypeform  = "typeform"
	SchemeClerk     = "clerk"
	SchemeResend    = "resend"
	SchemeMailgun   = "mailgun"
)

func tmpl(s string) []part {
	p, err := parseTemplate(s)
	if err != nil {
		panic("preset template " + s + ": " + err.Error())
	}
	return p
}

// discordInteractionTypes names Discord's interaction types, so a route can match
// "APPLICATION_COMMAND" rather than "2".
var discordInteractionTypes = map[string]string{
	"1": "PING", "2": "APPLICATION_COMMAND", "3": "MESSAGE_COMPONENT",
	"4": "APPLICATION_COMMAND_AUTOCOMPLETE", "5": "MODAL_SUBMIT",
}

// presets are the provider schemes that are specs. Each comment names the provider's
// documentation the row follows. Every preset is tested against a signature made by
// the provider's library or its documented recipe (infra/signers).
var presets = map[string]func() *spec{
	// discord.com/developers/docs/interactions/overview#setting-up-an-endpoint-validating-security-request-headers
	SchemeDiscord: func() *spec {
		return &spec{method: methodEd25519,
			sigHeader: "x-signature-ed25519", sigName: "X-Signature-Ed25519",
			tsHeader: "x-signature-timestamp", tsName: "X-Signature-Timestamp", tolerance: DefaultToleranceSeconds,
			tmpl:   tmpl("{timestamp}{body}"),
			idPath: []string{"id"}, idNumber: true,
			typePath: []string{"type"}, typeNumber: true, typeNames: discordInteractionTypes,
			body: bodyObject, handshake: handshakeDiscord}
	},
	// www.twilio.com/docs/sendgrid/for-developers/tracking-events/getting-started-event-webhook-security-features
	SchemeSendGrid: func() *spec {
		return &spec{method: methodECDSA, base64: true,
			sigHeader: "x-twilio-email-event-webhook-signature", sigName: "X-Twilio-Email-Event-Webhook-Signature",
			tsHeader: "x-twilio-email-event-webhook-timestamp", tsName: "X-Twilio-Email-Event-Webhook-Timestamp",
			tmpl:       tmpl("{timestamp}{body}"),
			idBodyHash: true, typeConst: "event_batch", body: bodyJSON}
	},
	// www.twilio.com/docs/usage/webhooks/webhooks-security
	SchemeTwilio: func() *spec {
		return &spec{alg: algSHA1, base64: true,
			sigHeader: "x-twilio-signature", sigName: "X-Twilio-Signature",
			tmpl: tmpl("{url}{params}"), needURL: true,
			idHeaders: []string{"i-twilio-idempotency-token"}, idBodyHash: true,
			typeConst: "request", body: bodyForm,
			keep: []string{"i-twilio-idempotency-token"}}
	},
	// docs.gitlab.com/user/project/integrations/webhooks/#validate-requests-with-a-secret-token
	SchemeGitLab: func() *spec {
		return &spec{method: methodToken,
			sigHeader: "x-gitlab-token", sigName: "X-Gitlab-Token",
			idHeaders: []string{"idempotency-key", "x-gitlab-event-uuid"},
			typePath:  []string{"object_kind"}, body: bodyObject,
			keep: []string{"x-gitlab-event", "x-gitlab-event-uuid", "x-gitlab-webhook-uuid", "x-gitlab-instance", "idempotency-key"}}
	},
	// postmarkapp.com/developer/webhooks/webhooks-overview#protecting-your-webhook
	SchemePostmark: func() *spec {
		return &spec{method: methodBasic,
			sigHeader: "authorization", sigName: "Authorization",
			idBodyHash: true, typePath: []string{"RecordType"}, typeConst: "Inbound", body: bodyObject}
	},
	// developers.zoom.us/docs/api/webhooks/#verify-webhook-events
	SchemeZoom: func() *spec {
		return &spec{sigHeader: "x-zm-signature", sigName: "x-zm-signature", prefix: "v0=",
			tsHeader: "x-zm-request-timestamp", tsName: "x-zm-request-timestamp", tolerance: DefaultToleranceSeconds,
			tmpl:       tmpl("v0:{timestamp}:{body}"),
			idBodyHash: true, typePath: []string{"event"}, body: bodyObject, handshake: handshakeZoom,
			keep: []string{"x-zm-trackingid"}}
	},
	// dev.twitch.tv/docs/eventsub/handling-webhook-events/#verifying-the-event-message
	SchemeTwitch: func() *spec {
		return &spec{sigHeader: "twitch-eventsub-message-signature", sigName: "Twitch-Eventsub-Message-Signature", prefix: "sha256=",
			tsHeader: "twitch-eventsub-message-timestamp", tsName: "Twitch-Eventsub-Message-Timestamp", unit: unitRFC3339, tolerance: 600,
			tmpl:      tmpl("{id}{timestamp}{body}"),
			idHeaders: []string{"twitch-eventsub-message-id"}, typeHeader: "twitch-eventsub-subscription-type",
			body: bodyObject, handshake: handshakeTwitch,
			keep: []string{"twitch-eventsub-message-id", "twitch-eventsub-message-type", "twitch-eventsub-message-timestamp",
				"twitch-eventsub-message-retry", "twitch-eventsub-subscription-type", "twitch-eventsub-subscription-version"}}
	},
	// developer.paddle.com/webhooks/signature-verification
	SchemePaddle: func() *spec {
		return &spec{sigHeader: "paddle-signature", sigName: "Paddle-Signature", layout: layoutFields, sigKey: "h1", tsKey: "ts", fieldSep: ";",
			tolerance: DefaultToleranceSeconds, tmpl: tmpl("{timestamp}:{body}"),
			idPath: []string{"event_id"}, typePath: []string{"event_type"}, body: bodyObject}
	},
	// developer.squareup.com/docs/webhooks/step3validate
	SchemeSquare: func() *spec {
		return &spec{sigHeader: "x-square-hmacsha256-signature", sigName: "x-square-hmacsha256-signature", base64: true,
			tmpl: tmpl("{url}{body}"), needURL: true,
			idPath: []string{"event_id"}, typePath: []string{"type"}, body: bodyObject}
	},
	// developers.hubspot.com/docs/api/webhooks/validating-requests (v3)
	SchemeHubSpot: func() *spec {
		return &spec{sigHeader: "x-hubspot-signature-v3", sigName: "X-HubSpot-Signature-v3", base64: true,
			tsHeader: "x-hubspot-request-timestamp", tsName: "X-HubSpot-Request-Timestamp", unit: unitMillis, tolerance: DefaultToleranceSeconds,
			tmpl: tmpl("{method}{url}{body}{timestamp}"), needURL: true,
			idBodyHash: true, typeConst: "event_batch", body: bodyJSON}
	},
	// linear.app/developers/webhooks#securing-webhooks
	SchemeLinear: func() *spec {
		return &spec{sigHeader: "linear-signature", sigName: "Linear-Signature",
			bodyTS: []string{"webhookTimestamp"}, unit: unitMillis, tolerance: 60,
			idHeaders: []string{"linear-delivery"}, typeHeader: "linear-event",
			keep: []string{"linear-delivery", "linear-event"}}
	},
	// developers.intercom.com/docs/webhooks/setting-up-webhooks (X-Hub-Signature, HMAC-SHA1)
	SchemeIntercom: func() *spec {
		return &spec{alg: algSHA1, sigHeader: "x-hub-signature", sigName: "X-Hub-Signature", prefix: "sha1=",
			idPath: []string{"id"}, typePath: []string{"topic"}, body: bodyObject}
	},
	// support.atlassian.com/bitbucket-cloud/docs/manage-webhooks/#Secure-webhooks
	SchemeBitbucket: func() *spec {
		return &spec{sigHeader: "x-hub-signature", sigName: "X-Hub-Signature", prefix: "sha256=",
			idHeaders: []string{"x-request-uuid"}, typeHeader: "x-event-key",
			keep: []string{"x-request-uuid", "x-event-key", "x-hook-uuid", "x-attempt-number"}}
	},
	// vercel.com/docs/webhooks/webhooks-api#securing-webhooks
	SchemeVercel: func() *spec {
		return &spec{alg: algSHA1, sigHeader: "x-vercel-signature", sigName: "x-vercel-signature",
			idPath: []string{"id"}, typePath: []string{"type"}, body: bodyObject}
	},
	// workos.com/docs/events/data-syncing/webhooks/3-process-the-events/b-validate-the-requests-manually
	SchemeWorkOS: func() *spec {
		return &spec{sigHeader: "workos-signature", sigName: "WorkOS-Signature", layout: layoutFields, sigKey: "v1", tsKey: "t", fieldSep: ", ",
			unit: unitMillis, tolerance: 180, tmpl: tmpl("{timestamp}.{body}"),
			idPath: []string{"id"}, typePath: []string{"event"}, body: bodyObject}
	},
	// developer.calendly.com/api-docs/4c305798a61d3-webhook-signatures
	SchemeCalendly: func() *spec {
		return &spec{sigHeader: "calendly-webhook-signature", sigName: "Calendly-Webhook-Signature", layout: layoutFields, sigKey: "v1", tsKey: "t",
			tolerance: 180, tmpl: tmpl("{timestamp}.{body}"),
			idBodyHash: true, typePath: []string{"event"}, body: bodyObject}
	},
	// www.typeform.com/developers/webhooks/secure-your-webhooks/
	SchemeTypeform: func() *spec {
		return &spec{sigHeader: "typeform-signature", sigName: "Typeform-Signature", prefix: "sha256=", base64: true,
			idPath: []string{"event_id"}, typePath: []string{"event_type"}, body: bodyObject}
	},
	// documentation.mailgun.com/docs/mailgun/user-manual/webhooks/securing-webhooks
	SchemeMailgun: func() *spec {
		return &spec{method: methodMailgun, sigName: "signature",
			idPath: []string{"event-data", "id"}, typePath: []string{"event-data", "event"}, body: bodyObject}
	},
}

// Presets lists every scheme name ParseSources accepts, in the README's order.
func Presets() []string {
	return []string{SchemeStripe, SchemeGitHub, SchemeShopify, SchemeSlack, SchemeStandardWebhooks, SchemeHMACSHA256,
		SchemeHMAC, SchemeDiscord, SchemeSendGrid, SchemeTwilio, SchemeGitLab, SchemePostmark, SchemeZoom, SchemeTwitch,
		SchemePaddle, SchemeSquare, SchemeHubSpot, SchemeLinear, SchemeIntercom, SchemeBitbucket, SchemeVercel,
		SchemeWorkOS, SchemeCalendly, SchemeTypeform, SchemeClerk, SchemeResend, SchemeMailgun}
}

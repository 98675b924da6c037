package local

import (
	"fmt"
	"net/url"
	"time"
)

// presetSample returns the body of a sample webhook for a preset scheme, with the
// headers the provider sends besides its signature added to h: a JSON body as a map,
// or a form body as raw bytes (twilio). Schemes keyed on the body's hash (sendgrid,
// postmark, zoom, hubspot-v3, calendly) get a body that depends on id alone, so that a
// repeated send is a duplicate, as a provider's retry is.
func presetSample(scheme, id string, now time.Time, h map[string]string) (map[string]any, []byte, error) {
	switch scheme {
	case "discord":
		h["user-agent"] = "Discord-Interactions/1.0 (+https://discord.com)"
		return map[string]any{"id": id, "type": 2, "application_id": "1100000000000000000", "token": "interaction-token",
			"data": map[string]any{"name": "hello", "type": 1}}, nil, nil
	case "sendgrid":
		h["user-agent"] = "SendGrid Event API"
		return nil, []byte(`[{"email":"jon@example.com","timestamp":1793534400,"event":"delivered","sg_event_id":"` + id + `","sg_message_id":"msg.` + id + `"}]`), nil
	case "twilio":
		h["content-type"], h["user-agent"], h["i-twilio-idempotency-token"] = "application/x-www-form-urlencoded", "TwilioProxy/1.1", id
		h["x-home-region"] = "us1"
		form := url.Values{"MessageSid": {"SM" + id}, "AccountSid": {"AC0000"}, "From": {"+15550001111"}, "To": {"+15550002222"}, "Body": {"hello"}, "SmsStatus": {"received"}}
		return nil, []byte(form.Encode()), nil
	case "gitlab":
		h["x-gitlab-event"], h["x-gitlab-event-uuid"], h["x-gitlab-webhook-uuid"] = "Push Hook", id, "8f7e6d5c-0000-4000-8000-tenaz0000001"
		h["idempotency-key"], h["x-gitlab-instance"], h["user-agent"] = id, "https://gitlab.example.com", "GitLab/17.6.0"
		return map[string]any{"object_kind": "push", "event_name": "push", "ref": "refs/heads/main", "checkout_sha": id}, nil, nil
	case "postmark":
		h["user-agent"] = "Postmark"
		return map[string]any{"RecordType": "Delivery", "MessageID": id, "Recipient": "jon@example.com", "MessageStream": "outbound",
			"DeliveredAt": "2026-11-01T12:00:00Z"}, nil, nil
	case "zoom":
		h["x-zm-trackingid"], h["user-agent"] = "v=2.0&s="+id, "Zoom Marketplace/1.0a"
		return map[string]any{"event": "meeting.started", "event_ts": 1793534400000,
			"payload": map[string]any{"account_id": "acc1", "object": map[string]any{"id": id, "topic": "Standup"}}}, nil, nil
	case "twitch":
		h["twitch-eventsub-message-id"], h["twitch-eventsub-message-type"], h["twitch-eventsub-message-retry"] = id, "notification", "0"
		h["twitch-eventsub-subscription-type"], h["twitch-eventsub-subscription-version"] = "channel.follow", "2"
		return map[string]any{"subscription": map[string]any{"id": "f1c2a387-161a-49f9-a165-0f21d7a4e1c4", "type": "channel.follow", "version": "2", "status": "enabled"},
			"event": map[string]any{"user_id": "1337", "user_login": "awesome_user", "broadcaster_user_id": "12826", "followed_at": now.UTC().Format(time.RFC3339)}}, nil, nil
	case "paddle":
		return map[string]any{"event_id": "evt_" + id, "event_type": "transaction.completed", "occurred_at": now.UTC().Format(time.RFC3339),
			"notification_id": "ntf_" + id, "data": map[string]any{"id": "txn_" + id}}, nil, nil
	case "square":
		h["user-agent"] = "Square Connect v2"
		return map[string]any{"merchant_id": "MLEFBHHSJGVHD", "type": "payment.created", "event_id": id, "created_at": now.UTC().Format(time.RFC3339),
			"data": map[string]any{"type": "payment", "id": "pay_" + id}}, nil, nil
	case "hubspot-v3":
		h["user-agent"] = "HubSpot Connect 2.0 (http://dev.hubspot.com/)"
		return nil, []byte(`[{"eventId":100,"subscriptionId":1,"portalId":62515,"appId":1,"occurredAt":1793534400000` +
			`,"subscriptionType":"contact.creation","attemptNumber":0,"objectId":123,"changeFlag":"CREATED","changeSource":"CRM","note":"` + id + `"}]`), nil
	case "linear":
		h["linear-delivery"], h["linear-event"], h["user-agent"] = id, "Issue", "Linear-Webhook"
		return map[string]any{"action": "create", "type": "Issue", "webhookTimestamp": now.UnixMilli(), "webhookId": "wh_1", "data": map[string]any{"id": id, "title": "Sample"}}, nil, nil
	case "intercom":
		h["user-agent"] = "intercom-parrot-service-worker"
		return map[string]any{"type": "notification_event", "id": "notif_" + id, "topic": "conversation.user.created", "app_id": "abc123",
			"created_at": now.Unix(), "data": map[string]any{"item": map[string]any{"type": "conversation", "id": "1"}}}, nil, nil
	case "bitbucket":
		h["x-event-key"], h["x-request-uuid"], h["x-hook-uuid"], h["x-attempt-number"] = "repo:push", id, "{6b7a8c1e-0000-4000-8000-tenaz0000001}", "1"
		h["user-agent"] = "Bitbucket-Webhooks/2.0"
		return map[string]any{"push": map[string]any{"changes": []any{}}, "repository": map[string]any{"full_name": "tenaz/demo"}}, nil, nil
	case "vercel":
		return map[string]any{"id": id, "type": "deployment.created", "createdAt": now.UnixMilli(), "payload": map[string]any{"deployment": map[string]any{"id": "dpl_1"}}}, nil, nil
	case "workos":
		return map[string]any{"id": "event_" + id, "event": "user.created", "created_at": now.UTC().Format(time.RFC3339), "data": map[string]any{"id": "user_1"}}, nil, nil
	case "calendly":
		return map[string]any{"event": "invitee.created", "created_at": "2026-11-01T12:00:00.000000Z", "created_by": "https://api.calendly.com/users/U1",
			"payload": map[string]any{"uri": "https://api.calendly.com/scheduled_events/E1/invitees/" + id}}, nil, nil
	case "typeform":
		h["user-agent"] = "Typeform Webhooks"
		return map[string]any{"event_id": id, "event_type": "form_response", "form_response": map[string]any{"form_id": "lT4Z3j", "token": id}}, nil, nil
	case "clerk":
		h["svix-id"] = "msg_" + id
		return map[string]any{"type": "user.created", "object": "event", "timestamp": now.UnixMilli(), "data": map[string]any{"id": "user_" + id}}, nil, nil
	case "resend":
		h["svix-id"] = "msg_" + id
		return map[string]any{"type": "email.delivered", "created_at": now.UTC().Format(time.RFC3339), "data": map[string]any{"email_id": id}}, nil, nil
	case "mailgun":
		return map[string]any{"event-data": map[string]any{"id": id, "event": "delivered", "timestamp": now.Unix(), "recipient": "jon@example.com"}}, nil, nil
	}
	return nil, nil, fmt.Errorf("scheme %q has no sample", scheme)
}

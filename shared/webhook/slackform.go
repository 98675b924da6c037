package webhook

import (
	"net/url"
	"strings"
)

// Slack posts two kinds of application/x-www-form-urlencoded body, signed as the
// Events API's JSON is (v0:<timestamp>:<raw body>):
//
//   - interactivity (block_actions, view_submission, view_closed, shortcut,
//     message_action, block_suggestion, …): one field "payload" holding a JSON object
//     whose "type" names the interaction;
//   - slash commands: plain form fields (command, text, user_id, trigger_id, …), no
//     "payload".
//
// Neither carries an event_id. The id is "trigger_id", which Slack mints for each
// interaction and each slash command invocation (it is what views.open takes and can
// be used once), so a retried delivery of the same interaction keeps it and two
// interactions never share it. Payloads without a trigger_id (view_closed) are keyed
// on their view: "<type>/<view.id>/<view.hash>", the view's id and the hash Slack
// documents as unique to each state of the view. Anything else is refused as
// no_event_id.

// slashCommandType is the event type of a slash command post.
const slashCommandType = "slash_command"

var (
	pathType      = []string{"type"}
	pathTriggerID = []string{"trigger_id"}
	pathViewID    = []string{"view", "id"}
	pathViewHash  = []string{"view", "hash"}
)

// extractSlackForm reads the id and type of a verified Slack form post.
func (s *Source) extractSlackForm(headers map[string]string, body []byte) (Event, *Error) {
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return Event{}, errNoEventID("body is not a valid application/x-www-form-urlencoded form")
	}
	var ev Event
	if raw, ok := form["payload"]; ok {
		d, perr := parseDoc([]byte(raw[0]))
		if perr != nil {
			return Event{}, errNoEventID(`form field "payload" is not a JSON object`)
		}
		ev.Type, _ = d.text(pathType, false)
		if ev.Type == "" {
			return Event{}, errNoEventID(`form field "payload" has no "type" string`)
		}
		ev.ID, _ = d.text(pathTriggerID, false)
		if ev.ID == "" {
			id, _ := d.text(pathViewID, false)
			hash, _ := d.text(pathViewHash, false)
			if id != "" && hash != "" {
				ev.ID = ev.Type + "/" + id + "/" + hash
			}
		}
		if ev.ID == "" {
			return Event{}, errNoEventID(`form field "payload" has no "trigger_id" string, nor "view.id" and "view.hash"`)
		}
	} else {
		ev.Type = slashCommandType
		ev.ID = strings.TrimSpace(form.Get("trigger_id"))
		if ev.ID == "" {
			return Event{}, errNoEventID(`form has neither a "payload" field (interactivity) nor a "trigger_id" field (slash command)`)
		}
	}
	ev.Headers = s.kept(headers)
	return ev, nil
}

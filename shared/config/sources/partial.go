package sources

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/tenaz/tenaz/shared/config"
	"github.com/tenaz/tenaz/shared/webhook"
)

// Set is what one read of the sources gave: the valid sources, and the entries
// that were refused with why (the reason names the entry, never a secret value).
type Set struct {
	Sources webhook.Sources
	Invalid map[string]error
}

// LoadSet is Load that degrades: an invalid entry is put in Invalid and the others
// are kept. It fails only when nothing can be read: no setting, an unreadable
// parameter or secret, or a value that is not a JSON object.
func LoadSet(ctx context.Context, getenv config.Getenv, secrets SecretGetter) (Set, error) {
	return LoadSetFrom(ctx, getenv, Stores{Secrets: secrets})
}

// LoadSetFrom is LoadSet with every store (see LoadFrom).
func LoadSetFrom(ctx context.Context, getenv config.Getenv, st Stores) (Set, error) {
	data, where, err := read(ctx, getenv, st)
	if err != nil {
		return Set{}, err
	}
	s, err := parseSet(data)
	if err != nil {
		return Set{}, fmt.Errorf("%s: %w", where, err)
	}
	return s, nil
}

// parseSet splits the sources object into entries and validates each on its own
// with webhook.ParseSources, so that one bad entry refuses only itself. An entry
// defined twice is refused as a whole: which definition was meant is unknown.
func parseSet(data []byte) (Set, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return Set{}, errors.New("sources: not a JSON object keyed by source name")
	}
	raw := map[string]json.RawMessage{}
	set := Set{Sources: webhook.Sources{}, Invalid: map[string]error{}}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return Set{}, errors.New("sources: not valid JSON")
		}
		name := tok.(string)
		var msg json.RawMessage
		if err := dec.Decode(&msg); err != nil {
			return Set{}, fmt.Errorf("source %q: not valid JSON", name)
		}
		if _, dup := raw[name]; dup {
			set.Invalid[name] = fmt.Errorf("source %q: defined twice", name)
		}
		raw[name] = msg
	}
	if _, err := dec.Token(); err != nil {
		return Set{}, errors.New("sources: not valid JSON")
	}
	if _, err := dec.Token(); err != io.EOF {
		return Set{}, errors.New("sources: data after the JSON object")
	}
	for name, msg := range raw {
		if set.Invalid[name] != nil {
			continue
		}
		key, _ := json.Marshal(name)
		one, err := webhook.ParseSources(bytes.Join([][]byte{[]byte("{"), key, []byte(":"), msg, []byte("}")}, nil))
		if err != nil {
			set.Invalid[name] = err
			continue
		}
		set.Sources[name] = one[name]
	}
	return set, nil
}

package blob_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tenaz/tenaz/shared/blob"
	"github.com/tenaz/tenaz/shared/envelope"
)

func TestLoad(t *testing.T) {
	ctx := context.Background()
	store := blob.NewMemory()
	body := []byte(`{"id":"evt_1","large":true}`)
	key, err := blob.Key("stripe", "evt_1")
	if err != nil {
		t.Fatal(err)
	}
	if err := store.Put(ctx, key, blob.Sum(body), body); err != nil {
		t.Fatal(err)
	}
	stored := func() *envelope.Envelope {
		return &envelope.Envelope{Source: "stripe", ID: "evt_1", Type: "t", ReceivedAt: time.Unix(0, 0),
			BodyRef: key, BodySHA256: blob.Sum(body)}
	}

	e := stored()
	if err := blob.Load(ctx, store, e); err != nil || string(e.Body) != string(body) {
		t.Fatalf("Load = %q, %v", e.Body, err)
	}

	inline := &envelope.Envelope{Source: "s", ID: "i", Type: "t", Body: []byte("inline")}
	if err := blob.Load(ctx, nil, inline); err != nil || string(inline.Body) != "inline" {
		t.Fatalf("Load of an inline body = %q, %v", inline.Body, err)
	}

	missing := stored()
	missing.BodyRef += "x"
	if err := blob.Load(ctx, store, missing); !errors.Is(err, blob.ErrNotFound) || blob.Retryable(err) {
		t.Fatalf("missing object: %v", err)
	}
	wrong := stored()
	wrong.BodySHA256 = blob.Sum([]byte("other"))
	if err := blob.Load(ctx, store, wrong); !errors.Is(err, blob.ErrHashMismatch) || blob.Retryable(err) || len(wrong.Body) != 0 {
		t.Fatalf("mismatched sum: %v, body %q", err, wrong.Body)
	}
	if err := blob.Load(ctx, nil, stored()); !errors.Is(err, blob.ErrNoStore) || blob.Retryable(err) {
		t.Fatalf("no store: %v", err)
	}
}

// Package blobtest is the contract suite every blob.Store adapter passes: the
// in-memory store in a normal test, the S3 adapter on moto server in an
// integration test.
package blobtest

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/tenaz/tenaz/shared/blob"
)

// Store is what every adapter provides: blob.Store, and the Delete and Touch the
// readers use once an event is done or before it is replayed.
type Store interface {
	blob.Store
	// Delete removes the object under key; deleting an absent key succeeds.
	Delete(ctx context.Context, key string) error
	// Touch restarts the object's lifecycle age, keeping its body and SHA-256; an
	// absent key is ErrNotFound.
	Touch(ctx context.Context, key string) error
}

// Run runs every case against the store newStore returns (a fresh, empty store or
// one where the keys used are unique to the test).
func Run(t *testing.T, newStore func(t *testing.T) Store) {
	t.Helper()
	cases := []struct {
		name string
		run  func(t *testing.T, s Store)
	}{
		{"PutGet", putGet},
		{"RetryOverwrites", retryOverwrites},
		{"Missing", missing},
		{"WrongSum", wrongSum},
		{"PutRefusesBadSum", putRefusesBadSum},
		{"AnyBytes", anyBytes},
		{"Delete", deleteObject},
		{"DeleteMissing", deleteMissing},
		{"Touch", touch},
		{"TouchMissing", touchMissing},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.run(t, newStore(t))
		})
	}
}

func key(t *testing.T, id string) string {
	t.Helper()
	k, err := blob.Key("contract", t.Name()+"/"+id)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func putGet(t *testing.T, s Store) {
	ctx := context.Background()
	body := bytes.Repeat([]byte("hello, body "), 1000)
	k := key(t, "a")
	if err := s.Put(ctx, k, blob.Sum(body), body); err != nil {
		t.Fatalf("put: %v", err)
	}
	got, err := s.Get(ctx, k, blob.Sum(body))
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	if !bytes.Equal(got, body) {
		t.Fatalf("get returned %d bytes, want the %d put", len(got), len(body))
	}
}

func retryOverwrites(t *testing.T, s Store) {
	ctx := context.Background()
	k := key(t, "a")
	first, second := []byte(`{"v":1}`), []byte(`{"v":2}`)
	if err := s.Put(ctx, k, blob.Sum(first), first); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, k, blob.Sum(second), second); err != nil {
		t.Fatal(err)
	}
	got, err := s.Get(ctx, k, blob.Sum(second))
	if err != nil || !bytes.Equal(got, second) {
		t.Fatalf("get after overwrite = %q, %v; want %q", got, err, second)
	}
	if _, err := s.Get(ctx, k, blob.Sum(first)); !errors.Is(err, blob.ErrHashMismatch) {
		t.Fatalf("get with the overwritten body's sum: %v, want ErrHashMismatch", err)
	}
}

func missing(t *testing.T, s Store) {
	_, err := s.Get(context.Background(), key(t, "never-put"), blob.Sum(nil))
	if !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("get of a missing key: %v, want ErrNotFound", err)
	}
	if blob.Retryable(err) {
		t.Fatalf("a missing object is reported retryable: %v", err)
	}
}

func wrongSum(t *testing.T, s Store) {
	ctx := context.Background()
	body := []byte("signed body")
	k := key(t, "a")
	if err := s.Put(ctx, k, blob.Sum(body), body); err != nil {
		t.Fatal(err)
	}
	_, err := s.Get(ctx, k, blob.Sum([]byte("other body")))
	if !errors.Is(err, blob.ErrHashMismatch) || blob.Retryable(err) {
		t.Fatalf("get with a wrong sum: %v, want permanent ErrHashMismatch", err)
	}
}

func putRefusesBadSum(t *testing.T, s Store) {
	ctx := context.Background()
	k := key(t, "a")
	err := s.Put(ctx, k, blob.Sum([]byte("x")), []byte("y"))
	if !errors.Is(err, blob.ErrHashMismatch) || blob.Retryable(err) {
		t.Fatalf("put with a sum not the body's: %v, want permanent ErrHashMismatch", err)
	}
	if _, err := s.Get(ctx, k, blob.Sum([]byte("y"))); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("a refused put left an object: get = %v", err)
	}
}

func anyBytes(t *testing.T, s Store) {
	ctx := context.Background()
	body := make([]byte, 0, 512)
	for i := range 256 {
		body = append(body, byte(i), 0xff)
	}
	body = append(body, "\uffff\ufffe"...)
	k := key(t, "a")
	if err := s.Put(ctx, k, blob.Sum(body), body); err != nil {
		t.Fatal(err)
	}
	got, err := s.Get(ctx, k, blob.Sum(body))
	if err != nil || !bytes.Equal(got, body) {
		t.Fatalf("bytes changed in the store: %v", err)
	}
}

func deleteObject(t *testing.T, s Store) {
	ctx := context.Background()
	body := []byte("done with")
	k, other := key(t, "a"), key(t, "b")
	for _, kk := range []string{k, other} {
		if err := s.Put(ctx, kk, blob.Sum(body), body); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Delete(ctx, k); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if _, err := s.Get(ctx, k, blob.Sum(body)); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("get after delete: %v, want ErrNotFound", err)
	}
	if err := s.Delete(ctx, k); err != nil {
		t.Fatalf("a second delete of the same key: %v, want success", err)
	}
	if got, err := s.Get(ctx, other, blob.Sum(body)); err != nil || !bytes.Equal(got, body) {
		t.Fatalf("delete of one key touched another: get = %q, %v", got, err)
	}
}

func deleteMissing(t *testing.T, s Store) {
	if err := s.Delete(context.Background(), key(t, "never-put")); err != nil {
		t.Fatalf("delete of a key never put: %v, want success", err)
	}
}

func touch(t *testing.T, s Store) {
	ctx := context.Background()
	body := bytes.Repeat([]byte{0, 'x', 0xff}, 700)
	k := key(t, "a")
	if err := s.Put(ctx, k, blob.Sum(body), body); err != nil {
		t.Fatal(err)
	}
	for range 2 { // a touched object can be touched again
		if err := s.Touch(ctx, k); err != nil {
			t.Fatalf("touch: %v", err)
		}
	}
	// The body and its recorded SHA-256 survive: the check on Get still passes.
	got, err := s.Get(ctx, k, blob.Sum(body))
	if err != nil || !bytes.Equal(got, body) {
		t.Fatalf("get after touch: %d bytes, %v; want the %d put", len(got), err, len(body))
	}
	if _, err := s.Get(ctx, k, blob.Sum([]byte("other"))); !errors.Is(err, blob.ErrHashMismatch) {
		t.Fatalf("get with a wrong sum after touch: %v, want ErrHashMismatch", err)
	}
}

func touchMissing(t *testing.T, s Store) {
	ctx := context.Background()
	k := key(t, "never-put")
	err := s.Touch(ctx, k)
	if !errors.Is(err, blob.ErrNotFound) || blob.Retryable(err) {
		t.Fatalf("touch of a missing key: %v, want permanent ErrNotFound", err)
	}
	if _, err := s.Get(ctx, k, blob.Sum(nil)); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("touch of a missing key created an object: get = %v", err)
	}
}

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

// Run runs every case against the store newStore returns (a fresh, empty store or
// one where the keys used are unique to the test).
func Run(t *testing.T, newStore func(t *testing.T) blob.Store) {
	t.Helper()
	cases := []struct {
		name string
		run  func(t *testing.T, s blob.Store)
	}{
		{"PutGet", putGet},
		{"RetryOverwrites", retryOverwrites},
		{"Missing", missing},
		{"WrongSum", wrongSum},
		{"PutRefusesBadSum", putRefusesBadSum},
		{"AnyBytes", anyBytes},
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

func putGet(t *testing.T, s blob.Store) {
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

func retryOverwrites(t *testing.T, s blob.Store) {
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

func missing(t *testing.T, s blob.Store) {
	_, err := s.Get(context.Background(), key(t, "never-put"), blob.Sum(nil))
	if !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("get of a missing key: %v, want ErrNotFound", err)
	}
	if blob.Retryable(err) {
		t.Fatalf("a missing object is reported retryable: %v", err)
	}
}

func wrongSum(t *testing.T, s blob.Store) {
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

func putRefusesBadSum(t *testing.T, s blob.Store) {
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

func anyBytes(t *testing.T, s blob.Store) {
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

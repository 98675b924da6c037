package blob_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tenaz/tenaz/shared/blob"
	"github.com/tenaz/tenaz/shared/blob/blobtest"
)

func TestMemoryContract(t *testing.T) {
	blobtest.Run(t, func(t *testing.T) blobtest.Store { return blob.NewMemory() })
}

func TestKey(t *testing.T) {
	a, err := blob.Key("github", "delivery-1")
	if err != nil {
		t.Fatal(err)
	}
	again, _ := blob.Key("github", "delivery-1")
	other, _ := blob.Key("github", "delivery-2")
	if a != again || a == other {
		t.Fatalf("keys: %q %q %q; want equal for one id, different for two", a, again, other)
	}
	want := "bodies/github/" + blob.Sum([]byte("delivery-1"))
	if a != want {
		t.Fatalf("Key = %q, want %q", a, want)
	}
	odd, err := blob.Key("s", "../../x y\x00/é")
	if err != nil || strings.ContainsAny(strings.TrimPrefix(odd, "bodies/s/"), "/. \x00") {
		t.Fatalf("Key of an odd id = %q, %v", odd, err)
	}
	for _, c := range [][2]string{{"", "id"}, {"src", ""}, {"a/b", "id"}} {
		if _, err := blob.Key(c[0], c[1]); !errors.Is(err, blob.ErrInvalidKey) {
			t.Errorf("Key(%q, %q): %v, want ErrInvalidKey", c[0], c[1], err)
		}
	}
}

func TestSum(t *testing.T) {
	if got := blob.Sum([]byte("abc")); got != "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" {
		t.Fatalf("Sum(abc) = %s", got)
	}
}

func TestMemoryOutageIsRetryable(t *testing.T) {
	m := blob.NewMemory()
	ctx := context.Background()
	body := []byte("b")
	m.SetOutage(errors.New("down"))
	if err := m.Put(ctx, "k", blob.Sum(body), body); !blob.Retryable(err) {
		t.Fatalf("put during outage: %v, want retryable", err)
	}
	if m.Len() != 0 {
		t.Fatal("put during an outage stored the body")
	}
	m.SetOutage(nil)
	if err := m.Put(ctx, "k", blob.Sum(body), body); err != nil {
		t.Fatal(err)
	}
	m.Corrupt("k", []byte("c"))
	if _, err := m.Get(ctx, "k", blob.Sum(body)); !errors.Is(err, blob.ErrHashMismatch) || blob.Retryable(err) {
		t.Fatalf("get of a corrupted object: %v, want permanent ErrHashMismatch", err)
	}
}

func TestMemoryTouchRestartsTheAge(t *testing.T) {
	m := blob.NewMemory()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	m.SetClock(func() time.Time { return now })
	ctx := context.Background()
	body := []byte("b")
	if err := m.Put(ctx, "k", blob.Sum(body), body); err != nil {
		t.Fatal(err)
	}
	put, _ := m.Modified("k")
	now = now.Add(6 * 24 * time.Hour)
	if err := m.Touch(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	if touched, ok := m.Modified("k"); !ok || !touched.Equal(now) || !put.Before(touched) {
		t.Fatalf("modified after touch = %v (put %v), want %v", touched, put, now)
	}
	m.SetOutage(errors.New("down"))
	if err := m.Touch(ctx, "k"); !blob.Retryable(err) {
		t.Fatalf("touch during an outage: %v, want retryable", err)
	}
	if err := m.Delete(ctx, "k"); !blob.Retryable(err) {
		t.Fatalf("delete during an outage: %v, want retryable", err)
	}
	if m.Len() != 1 {
		t.Fatal("a delete during an outage removed the object")
	}
}

package config

import (
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) Getenv { return func(k string) string { return m[k] } }

func TestIntAndDuration(t *testing.T) {
	t.Parallel()
	e := env(map[string]string{"A": "42", "B": "x", "C": "5000", "D": " 7 "})
	if v, err := Int(e, "A", 1, 0, 100); err != nil || v != 42 {
		t.Fatalf("A = %d, %v", v, err)
	}
	if v, err := Int(e, "UNSET", 9, 0, 100); err != nil || v != 9 {
		t.Fatalf("unset = %d, %v", v, err)
	}
	if _, err := Int(e, "B", 1, 0, 100); err == nil || !strings.Contains(err.Error(), "B") {
		t.Fatalf("B err = %v", err)
	}
	if _, err := Int(e, "C", 1, 0, 100); err == nil {
		t.Fatal("C out of range accepted")
	}
	if d, err := Duration(e, "D", time.Second, time.Minute, 0, 100); err != nil || d != 7*time.Second {
		t.Fatalf("D = %v, %v", d, err)
	}
	if d, err := Duration(e, "UNSET", time.Second, time.Minute, 0, 100); err != nil || d != time.Minute {
		t.Fatalf("unset duration = %v, %v", d, err)
	}
	if _, err := Required(e, "UNSET"); err == nil {
		t.Fatal("Required(UNSET) ok")
	}
}

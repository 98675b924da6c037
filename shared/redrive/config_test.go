package redrive_test

import (
	"testing"

	"github.com/tenaz/tenaz/shared/redrive"
)

func TestLoadSettings(t *testing.T) {
	t.Parallel()
	cases := []struct {
		value   string
		want    int
		wantErr bool
	}{
		{"", redrive.DefaultLimit, false},
		{"1", 1, false},
		{" 10 ", 10, false},
		{"0", 0, true},
		{"-1", 0, true},
		{"three", 0, true},
		{"1001", 0, true},
	}
	for _, c := range cases {
		t.Run(c.value, func(t *testing.T) {
			t.Parallel()
			s, err := redrive.LoadSettings(func(name string) string {
				if name == redrive.EnvLimit {
					return c.value
				}
				return ""
			})
			if (err != nil) != c.wantErr {
				t.Fatalf("error %v, want error %v", err, c.wantErr)
			}
			if err == nil && s.Limit != c.want {
				t.Fatalf("limit %d, want %d", s.Limit, c.want)
			}
			if err == nil && (s.ReceiveWait != redrive.DefaultReceiveWait || s.Hold != redrive.DefaultHold || s.DeadlineMargin != redrive.DefaultDeadlineMargin) {
				t.Fatalf("settings %+v lack the defaults", s)
			}
		})
	}
}

package retry

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"
)

func TestErrorKinds(t *testing.T) {
	t.Parallel()
	base := io.ErrUnexpectedEOF
	tests := []struct {
		name          string
		err           error
		wantPermanent bool
		wantAfter     time.Duration
		wantAfterOK   bool
	}{
		{"nil", nil, false, 0, false},
		{"plain error is transient", base, false, 0, false},
		{"permanent", Permanent(base), true, 0, false},
		{"wrapped permanent", fmt.Errorf("send: %w", Permanent(base)), true, 0, false},
		{"retry after", RetryAfter(base, 3*time.Second), false, 3 * time.Second, true},
		{"wrapped retry after", fmt.Errorf("send: %w", RetryAfter(base, time.Second)), false, time.Second, true},
		{"negative retry after is zero", RetryAfter(base, -time.Second), false, 0, true},
		{"permanent wins over retry after", RetryAfter(Permanent(base), time.Second), true, 0, false},
		{"permanent outside retry after", Permanent(RetryAfter(base, time.Second)), true, 0, false},
		{"outermost retry after", RetryAfter(RetryAfter(base, time.Second), time.Minute), false, time.Minute, true},
		{"joined", errors.Join(errors.New("other"), Permanent(base)), true, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := IsPermanent(tt.err); got != tt.wantPermanent {
				t.Errorf("IsPermanent = %v, want %v", got, tt.wantPermanent)
			}
			if got := errors.Is(tt.err, ErrPermanent); got != tt.wantPermanent {
				t.Errorf("errors.Is(err, ErrPermanent) = %v, want %v", got, tt.wantPermanent)
			}
			d, ok := RetryAfterOf(tt.err)
			if d != tt.wantAfter || ok != tt.wantAfterOK {
				t.Errorf("RetryAfterOf = %v, %v; want %v, %v", d, ok, tt.wantAfter, tt.wantAfterOK)
			}
			if tt.err != nil {
				if !errors.Is(tt.err, base) {
					t.Errorf("errors.Is(err, base) = false: the mark hides the cause")
				}
				if tt.err.Error() == "" {
					t.Errorf("empty error text")
				}
			}
		})
	}
}

func TestMarksKeepText(t *testing.T) {
	t.Parallel()
	base := errors.New("connection reset")
	for _, err := range []error{Permanent(base), RetryAfter(base, time.Second)} {
		if err.Error() != base.Error() {
			t.Errorf("%T text %q, want %q", err, err.Error(), base.Error())
		}
	}
	if Permanent(nil) != nil || RetryAfter(nil, time.Second) != nil {
		t.Error("marking nil must give nil")
	}
}

func TestHTTPError(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	h := func(kv ...string) http.Header {
		hd := http.Header{}
		for i := 0; i < len(kv); i += 2 {
			hd.Set(kv[i], kv[i+1])
		}
		return hd
	}
	type kind int
	const (
		ok kind = iota
		transient
		permanent
		after
	)
	tests := []struct {
		status int
		header http.Header
		want   kind
		after  time.Duration
		text   string
	}{
		{200, nil, ok, 0, ""},
		{201, nil, ok, 0, ""},
		{204, nil, ok, 0, ""},
		{299, nil, ok, 0, ""},
		{100, nil, permanent, 0, "HTTP 100 Continue"},
		{301, nil, permanent, 0, "HTTP 301 Moved Permanently"},
		{304, nil, permanent, 0, "HTTP 304 Not Modified"},
		{400, nil, permanent, 0, "HTTP 400 Bad Request"},
		{401, nil, permanent, 0, "HTTP 401 Unauthorized"},
		{404, h("Retry-After", "5"), permanent, 0, "HTTP 404 Not Found"},
		{409, nil, permanent, 0, "HTTP 409 Conflict"},
		{422, nil, permanent, 0, "HTTP 422 Unprocessable Entity"},
		{408, nil, transient, 0, "HTTP 408 Request Timeout"},
		{425, nil, transient, 0, "HTTP 425 Too Early"},
		{429, nil, transient, 0, "HTTP 429 Too Many Requests"},
		{500, nil, transient, 0, "HTTP 500 Internal Server Error"},
		{502, nil, transient, 0, "HTTP 502 Bad Gateway"},
		{599, nil, transient, 0, "HTTP 599"},
		{429, h("Retry-After", "120"), after, 2 * time.Minute, "HTTP 429 Too Many Requests"},
		{503, h("Retry-After", " 0 "), after, 0, "HTTP 503 Service Unavailable"},
		{503, h("Retry-After", now.Add(90*time.Second).Format(http.TimeFormat)), after, 90 * time.Second, "HTTP 503 Service Unavailable"},
		{503, h("Retry-After", "Sun, 01 Mar 2026 12:00:30 GMT"), after, 30 * time.Second, "HTTP 503 Service Unavailable"},
		{503, h("Retry-After", "Sunday, 01-Mar-26 12:01:00 GMT"), after, time.Minute, "HTTP 503 Service Unavailable"}, // RFC 850
		{503, h("Retry-After", now.Add(-time.Hour).Format(http.TimeFormat)), after, 0, "HTTP 503 Service Unavailable"},
		{503, h("Retry-After", "99999999999999999999"), after, 1<<63 - 1, "HTTP 503 Service Unavailable"},
		{503, h("Retry-After", "9223372036"), after, 9223372036 * time.Second, "HTTP 503 Service Unavailable"},
		{503, h("Retry-After", "9223372037"), after, 1<<63 - 1, "HTTP 503 Service Unavailable"},
		{503, h("Retry-After", "-5"), transient, 0, "HTTP 503 Service Unavailable"},
		{503, h("Retry-After", "1.5"), transient, 0, "HTTP 503 Service Unavailable"},
		{503, h("Retry-After", "soon"), transient, 0, "HTTP 503 Service Unavailable"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%d %v", tt.status, tt.header), func(t *testing.T) {
			t.Parallel()
			err := HTTPError(tt.status, tt.header, now)
			if tt.want == ok {
				if err != nil {
					t.Fatalf("HTTPError(%d) = %v, want nil", tt.status, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("HTTPError(%d) = nil", tt.status)
			}
			if err.Error() != tt.text {
				t.Errorf("text %q, want %q", err.Error(), tt.text)
			}
			var se *StatusError
			if !errors.As(err, &se) || se.Code != tt.status {
				t.Errorf("errors.As StatusError = %v, want code %d", se, tt.status)
			}
			if got := IsPermanent(err); got != (tt.want == permanent) {
				t.Errorf("IsPermanent = %v", got)
			}
			d, hasAfter := RetryAfterOf(err)
			if hasAfter != (tt.want == after) || d != tt.after {
				t.Errorf("RetryAfterOf = %v, %v; want %v, %v", d, hasAfter, tt.after, tt.want == after)
			}
		})
	}
}

func TestUnsent(t *testing.T) {
	if Unsent(nil) != nil {
		t.Fatal("Unsent(nil) is not nil")
	}
	base := errors.New("secret unreadable")
	err := fmt.Errorf("forward: %w", Unsent(base))
	if !IsUnsent(err) || !errors.Is(err, base) || IsPermanent(err) || err.Error() != "forward: secret unreadable" {
		t.Fatalf("%v: unsent %v, wraps %v, permanent %v", err, IsUnsent(err), errors.Is(err, base), IsPermanent(err))
	}
	if IsUnsent(base) || IsUnsent(Permanent(base)) {
		t.Fatal("an unmarked error is unsent")
	}
	if !IsUnsent(Permanent(Unsent(base))) || !IsPermanent(Permanent(Unsent(base))) {
		t.Fatal("marks do not combine")
	}
}

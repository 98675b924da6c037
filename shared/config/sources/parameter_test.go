package sources

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/tenaz/tenaz/shared/config"
	"github.com/tenaz/tenaz/shared/secrets/awsstore"
)

// fakeParameters is an in-memory Parameter Store: Put changes the value, as
// `aws ssm put-parameter --overwrite` does.
type fakeParameters struct {
	mu    sync.Mutex
	value *string
	err   error
	calls int
	name  string
}

func (f *fakeParameters) Put(v string) { f.mu.Lock(); f.value = aws.String(v); f.mu.Unlock() }

func (f *fakeParameters) Read(_ context.Context, name string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	f.name = name
	if f.err != nil {
		return "", f.err
	}
	if f.value == nil {
		return "", awsstore.ErrNoValue
	}
	return *f.value, nil
}

// The parameter wins over the secret, which is then never
// read; inline sources win over both.
func TestSourcesFromParameter(t *testing.T) {
	t.Parallel()
	ps := &fakeParameters{value: aws.String(sourcesJSON)}
	sm := &fakeSecrets{err: errors.New("must not be called")}
	both := map[string]string{config.EnvSourcesParameter: "/tenaz/prod/sources", config.EnvSourcesSecretID: "arn:x"}
	s, err := LoadFrom(context.Background(), env(both), Stores{Secrets: sm, Parameters: ps})
	if err != nil {
		t.Fatal(err)
	}
	if s["gh"] == nil || ps.calls != 1 || ps.name != "/tenaz/prod/sources" || sm.calls != 0 {
		t.Fatalf("sources %v, parameter calls %d name %q, secret calls %d", s, ps.calls, ps.name, sm.calls)
	}
	both[config.EnvSources] = sourcesJSON
	if _, err := LoadFrom(context.Background(), env(both), Stores{Secrets: sm, Parameters: ps}); err != nil || ps.calls != 1 {
		t.Fatalf("inline: err %v, parameter calls %d, want 1", err, ps.calls)
	}
}

func TestParameterErrorsNameTheProblemNotTheSecret(t *testing.T) {
	t.Parallel()
	p := map[string]string{config.EnvSourcesParameter: "/p"}
	cases := map[string]struct {
		ps   ParameterGetter
		want string
	}{
		"no client":  {nil, "no SSM client"},
		"read fails": {&fakeParameters{err: errors.New("ParameterNotFound")}, "read parameter /p"},
		"no value":   {&fakeParameters{}, "has no value"},
		"bad json":   {&fakeParameters{value: aws.String(`{"gh": {"scheme": "nope", "secrets": ["s3cr3t-value"]}}`)}, "parameter /p"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := LoadFrom(context.Background(), env(p), Stores{Parameters: c.ps})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want it to contain %q", err, c.want)
			}
			if strings.Contains(err.Error(), "s3cr3t-value") {
				t.Fatalf("error leaks the secret: %v", err)
			}
		})
	}
	_, err := LoadFrom(context.Background(), env(map[string]string{}), Stores{})
	if err == nil || !strings.Contains(err.Error(), config.EnvSourcesParameter) {
		t.Fatalf("nothing set: %v, want it to name %s", err, config.EnvSourcesParameter)
	}
}

// A catalog on the parameter refreshes as on the secret: no call within the
// interval, a new value after it, and a failed signature re-reads at most once per
// MinRefreshGap.
func TestCatalogRefreshesTheParameter(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ps := &fakeParameters{value: aws.String(`{"gh": {"scheme": "github", "secrets": ["first-secret-value"]}}`)}
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	cat, err := NewCatalog(ctx, CatalogOptions{Getenv: env(map[string]string{config.EnvSourcesParameter: "/p"}), Parameters: ps,
		Refresh: time.Minute, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	first, ok := cat.Source(ctx, "gh")
	if !ok || ps.calls != 1 {
		t.Fatalf("gh %v, calls %d", ok, ps.calls)
	}
	ps.Put(`{"gh": {"scheme": "github", "secrets": ["second-secret-value"]}, "new": {"scheme": "github", "secrets": ["n-secret-value"]}}`)
	now = now.Add(30 * time.Second)
	if _, ok := cat.Source(ctx, "new"); ok || ps.calls != 1 {
		t.Fatalf("within the interval: new %v, calls %d", ok, ps.calls)
	}
	now = now.Add(30 * time.Second)
	second, ok := cat.Source(ctx, "gh")
	if _, okNew := cat.Source(ctx, "new"); !ok || !okNew || second == first || ps.calls != 2 {
		t.Fatalf("after the interval: gh %v changed %v, new %v, calls %d", ok, second != first, okNew, ps.calls)
	}
	now = now.Add(MinRefreshGap - time.Second)
	if _, changed := cat.SignatureFailed(ctx, "gh"); changed || ps.calls != 2 {
		t.Fatalf("signature failure within the gap: changed %v, calls %d", changed, ps.calls)
	}
	ps.Put(`{"gh": {"scheme": "github", "secrets": ["third-secret-value"]}}`)
	now = now.Add(time.Second)
	if _, changed := cat.SignatureFailed(ctx, "gh"); !changed || ps.calls != 3 {
		t.Fatalf("signature failure after the gap: changed %v, calls %d", changed, ps.calls)
	}
}

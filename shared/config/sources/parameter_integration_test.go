//go:build integration

package sources

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/tenaz/tenaz/shared/config"
	"github.com/tenaz/tenaz/shared/internal/awstest"
	"github.com/tenaz/tenaz/shared/internal/samples"
	"github.com/tenaz/tenaz/shared/secrets/awsstore"
)

// The sources are read from a SecureString parameter on moto, decrypted, by name;
// a missing parameter is an error. A catalog on it picks up an overwritten value
// once the interval passes, as `aws ssm put-parameter --overwrite` gives it.
func TestIntegrationSourcesFromParameterStore(t *testing.T) {
	ctx := context.Background()
	cfg := awstest.Config(t)
	ps := ssm.NewFromConfig(cfg) // the test's own writes, as an operator's CLI makes them
	store := awsstore.NewParameters(ps)
	name := "/" + awstest.Name(t, "tenaz") + "/sources"
	put := func(v string, overwrite bool) {
		t.Helper()
		if _, err := ps.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String(name), Value: aws.String(v),
			Type: ssmtypes.ParameterTypeSecureString, Overwrite: aws.Bool(overwrite)}); err != nil {
			t.Fatal(err)
		}
	}
	put(string(samples.SourcesJSON(t)), false)
	s, err := LoadFrom(ctx, env(map[string]string{config.EnvSourcesParameter: name}), Stores{Parameters: store})
	if err != nil {
		t.Fatal(err)
	}
	if len(s) != len(samples.Sources(t)) || s["stripe"] == nil || s["acme"].Scheme() != "hmac-sha256" {
		t.Fatalf("sources %v", s)
	}
	if _, err := LoadFrom(ctx, env(map[string]string{config.EnvSourcesParameter: name + "-missing"}), Stores{Parameters: store}); err == nil {
		t.Fatal("missing parameter: no error")
	}

	put(`{"gh": {"scheme": "github", "secrets": ["first-secret-value"]}, "broken": {"scheme": "nope", "secrets": ["x"]}}`, true)
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	cat, err := NewCatalog(ctx, CatalogOptions{Getenv: env(map[string]string{config.EnvSourcesParameter: name}), Parameters: store,
		Refresh: time.Minute, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	gh, ok := cat.Source(ctx, "gh")
	if _, bad := cat.Source(ctx, "broken"); !ok || bad || cat.Len() != 1 {
		t.Fatalf("gh %v, broken present %v, len %d", ok, bad, cat.Len())
	}
	put(`{"gh": {"scheme": "github", "secrets": ["second-secret-value"]}, "new": {"scheme": "github", "secrets": ["n-secret-value"]}}`, true)
	if _, ok := cat.Source(ctx, "new"); ok {
		t.Fatal("re-read before the interval")
	}
	now = now.Add(time.Minute)
	gh2, ok := cat.Source(ctx, "gh")
	if _, okNew := cat.Source(ctx, "new"); !ok || !okNew || gh2 == gh {
		t.Fatalf("after the interval: gh %v (changed %v), new %v", ok, gh2 != gh, okNew)
	}
}

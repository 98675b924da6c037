//go:build integration

package sources

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/tenaz/tenaz/shared/config"
	"github.com/tenaz/tenaz/shared/internal/awstest"
	"github.com/tenaz/tenaz/shared/internal/samples"
)

// The sources secret is read from Secrets Manager on moto, by name and by ARN, as the
// template wires it.
func TestIntegrationSourcesFromSecretsManager(t *testing.T) {
	ctx := context.Background()
	sm := secretsmanager.NewFromConfig(awstest.Config(t))
	name := awstest.Name(t, "tenaz-sources")
	out, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(name), SecretString: aws.String(string(samples.SourcesJSON(t)))})
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{name, aws.ToString(out.ARN)} {
		s, err := Load(ctx, env(map[string]string{config.EnvSourcesSecretID: id}), sm)
		if err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		if len(s) != len(samples.Sources(t)) || s["stripe"] == nil || s["acme"].Scheme() != "hmac-sha256" {
			t.Fatalf("%s: sources %v", id, s)
		}
	}
	if _, err := Load(ctx, env(map[string]string{config.EnvSourcesSecretID: "does-not-exist"}), sm); err == nil {
		t.Fatal("missing secret: no error")
	}
}

// A catalog on Secrets Manager (moto) keeps the valid sources of a secret with an
// invalid entry, and picks up a new value of the secret once the interval passes.
func TestIntegrationCatalogDegradesAndRefreshes(t *testing.T) {
	ctx := context.Background()
	sm := secretsmanager.NewFromConfig(awstest.Config(t))
	name := awstest.Name(t, "tenaz-sources")
	first := `{"gh": {"scheme": "github", "secrets": ["first-secret-value"]}, "broken": {"scheme": "nope", "secrets": ["x"]}}`
	if _, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(name), SecretString: aws.String(first)}); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	cat, err := NewCatalog(ctx, CatalogOptions{Getenv: env(map[string]string{config.EnvSourcesSecretID: name}), Secrets: sm,
		Refresh: time.Minute, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	gh, ok := cat.Source(ctx, "gh")
	if _, bad := cat.Source(ctx, "broken"); !ok || bad || cat.Len() != 1 {
		t.Fatalf("gh %v, broken present %v, len %d", ok, bad, cat.Len())
	}
	second := `{"gh": {"scheme": "github", "secrets": ["second-secret-value"]}, "new": {"scheme": "github", "secrets": ["n-secret-value"]}}`
	if _, err := sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(name), SecretString: aws.String(second)}); err != nil {
		t.Fatal(err)
	}
	if _, ok := cat.Source(ctx, "new"); ok {
		t.Fatal("re-read before the interval")
	}
	now = now.Add(time.Minute)
	gh2, ok := cat.Source(ctx, "gh")
	if _, okNew := cat.Source(ctx, "new"); !ok || !okNew || gh2 == gh {
		t.Fatalf("after the interval: gh %v (changed %v), new %v", ok, gh2 != gh, okNew)
	}
}

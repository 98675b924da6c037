//go:build integration

package sources

import (
	"context"
	"testing"

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

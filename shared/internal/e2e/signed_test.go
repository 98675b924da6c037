//go:build integration

package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/tenaz/tenaz/shared/idempotency"
	"github.com/tenaz/tenaz/shared/internal/awstest"
	"github.com/tenaz/tenaz/shared/route"
	"github.com/tenaz/tenaz/shared/webhook"
)

// The processor bootstrap signs a route's deliveries with the secret of an SSM
// SecureString parameter (two secrets: a rotation under way) and adds an
// Authorization header from a Secrets Manager secret, both read from moto as the
// template lays them out; a destination holding either signing secret verifies it.
func TestE2EProcessorSignedDelivery(t *testing.T) {
	ctx := context.Background()
	cfg := awstest.Config(t)
	stack := awstest.Name(t, "tenaz")
	const (
		newSecret = "whsec_ZTJlLW5ldy1zaWduaW5nLWtleS1vZi0zMi1ieXRlcyE="
		oldSecret = "whsec_ZTJlLW9sZC1zaWduaW5nLWtleS1vZi0zMi1ieXRlcyE="
	)
	param := "/tenaz/" + stack + "/deliveries/orders-signing"
	if _, err := ssm.NewFromConfig(cfg).PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String(param),
		Value: aws.String(newSecret + " " + oldSecret), Type: ssmtypes.ParameterTypeSecureString}); err != nil {
		t.Fatal(err)
	}
	token := "tenaz/" + stack + "/deliveries/orders-token"
	if _, err := secretsmanager.NewFromConfig(cfg).CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(token),
		SecretString: aws.String("e2e-token\n")}); err != nil {
		t.Fatal(err)
	}

	s := sample(t, "stripe.json")
	key := s.Source + ":" + s.ID
	dest := newDestination(t, nil)
	p := newPipeline(t, []route.Config{{Source: s.Source, URL: dest.url, SigningSecret: "ssm:" + param,
		Headers: map[string]route.SecretHeader{"Authorization": {Secret: "secretsmanager:" + token, Format: "Bearer {}"}}}})
	p.send(s)
	fn := p.startProcessor("processor")
	p.settled(p.poll(invokeFn(fn), 0), 1)
	wantRecord(t, p, key, idempotency.StatusCompleted, 1)

	reqs := dest.received(key)
	if len(reqs) != 1 {
		t.Fatalf("%d requests for %s, want 1", len(reqs), key)
	}
	h := reqs[0].header
	if h.Get("Authorization") != "Bearer e2e-token" || h.Get("Webhook-Id") != key || len(strings.Fields(h.Get("Webhook-Signature"))) != 2 {
		t.Fatalf("headers: Authorization %q, webhook-id %q, webhook-signature %q", h.Get("Authorization"), h.Get("Webhook-Id"), h.Get("Webhook-Signature"))
	}
	lower := map[string]string{}
	for k := range h {
		lower[strings.ToLower(k)] = h.Get(k)
	}
	for _, secret := range []string{newSecret, oldSecret} {
		srcs, err := webhook.ParseSources([]byte(`{"d": {"scheme": "standard-webhooks", "secrets": ["` + secret + `"]}}`))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := srcs["d"].Verify(lower, []byte(reqs[0].body), time.Now()); err != nil {
			t.Errorf("a destination holding one of the secrets refuses the delivery: %v", err)
		}
	}
}

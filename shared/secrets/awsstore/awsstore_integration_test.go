//go:build integration

package awsstore

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/tenaz/tenaz/shared/internal/awstest"
	"github.com/tenaz/tenaz/shared/secrets"
)

// A delivery secret in a SecureString parameter and a token in Secrets Manager (by
// name and by ARN) on moto, read through a cache: a rotation is picked up once the TTL
// passes, and a deleted value keeps serving the value in hand.
func TestIntegrationCacheOverSSMAndSecretsManager(t *testing.T) {
	ctx := context.Background()
	cfg := awstest.Config(t)
	ps, sm := ssm.NewFromConfig(cfg), secretsmanager.NewFromConfig(cfg)
	stack := awstest.Name(t, "tenaz")
	param := "/tenaz/" + stack + "/deliveries/orders-signing"
	secret := "tenaz/" + stack + "/deliveries/orders-token"
	putParam := func(v string, overwrite bool) {
		t.Helper()
		if _, err := ps.PutParameter(ctx, &ssm.PutParameterInput{Name: aws.String(param), Value: aws.String(v),
			Type: ssmtypes.ParameterTypeSecureString, Overwrite: aws.Bool(overwrite)}); err != nil {
			t.Fatal(err)
		}
	}
	putParam("whsec_Zmlyc3Qtc2lnbmluZy1rZXktMzItYnl0ZXMtbG9uZyE=", false)
	created, err := sm.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(secret), SecretString: aws.String("token-one")})
	if err != nil {
		t.Fatal(err)
	}

	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	c := secrets.NewCache(secrets.Stores{SSM: NewParameters(ps), SecretsManager: NewSecrets(sm)},
		secrets.Options{TTL: time.Minute, Now: func() time.Time { return now }, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	want := func(ref secrets.Ref, v string) {
		t.Helper()
		got, err := c.Get(ctx, ref)
		if err != nil || got != v {
			t.Fatalf("%s: %q, %v; want %q", ref, got, err, v)
		}
	}
	pref := secrets.Ref{Kind: secrets.KindSSM, Name: param}
	byName := secrets.Ref{Kind: secrets.KindSecretsManager, Name: secret}
	byARN := secrets.Ref{Kind: secrets.KindSecretsManager, Name: aws.ToString(created.ARN)}
	want(pref, "whsec_Zmlyc3Qtc2lnbmluZy1rZXktMzItYnl0ZXMtbG9uZyE=")
	want(byName, "token-one")
	want(byARN, "token-one")

	// Rotation: both secrets during the overlap, then the token.
	putParam("whsec_c2Vjb25kLXNpZ25pbmcta2V5LTMyLWJ5dGVzLWxvbmch whsec_Zmlyc3Qtc2lnbmluZy1rZXktMzItYnl0ZXMtbG9uZyE=", true)
	if _, err := sm.PutSecretValue(ctx, &secretsmanager.PutSecretValueInput{SecretId: aws.String(secret), SecretString: aws.String("token-two")}); err != nil {
		t.Fatal(err)
	}
	want(pref, "whsec_Zmlyc3Qtc2lnbmluZy1rZXktMzItYnl0ZXMtbG9uZyE=") // within the TTL
	now = now.Add(time.Minute)
	want(pref, "whsec_c2Vjb25kLXNpZ25pbmcta2V5LTMyLWJ5dGVzLWxvbmch whsec_Zmlyc3Qtc2lnbmluZy1rZXktMzItYnl0ZXMtbG9uZyE=")
	want(byName, "token-two")
	want(byARN, "token-two")

	// The parameter disappears: the value in hand serves on.
	if _, err := ps.DeleteParameter(ctx, &ssm.DeleteParameterInput{Name: aws.String(param)}); err != nil {
		t.Fatal(err)
	}
	now = now.Add(time.Minute)
	want(pref, "whsec_c2Vjb25kLXNpZ25pbmcta2V5LTMyLWJ5dGVzLWxvbmch whsec_Zmlyc3Qtc2lnbmluZy1rZXktMzItYnl0ZXMtbG9uZyE=")

	// Never read, missing: an error naming the reference.
	missing := secrets.Ref{Kind: secrets.KindSSM, Name: param + "-missing"}
	if _, err := c.Get(ctx, missing); err == nil {
		t.Fatal("missing parameter: no error")
	}
	var nf *ssmtypes.ParameterNotFound
	if _, err := NewParameters(ps).Read(ctx, param+"-missing"); !errors.As(err, &nf) {
		t.Fatalf("missing parameter: %v, want ParameterNotFound", err)
	}
	if _, err := NewSecrets(sm).Read(ctx, secret+"-missing"); err == nil {
		t.Fatal("missing secret: no error")
	}
}

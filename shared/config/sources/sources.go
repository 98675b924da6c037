package sources

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/tenaz/tenaz/shared/config"
	"github.com/tenaz/tenaz/shared/webhook"
)

// SecretGetter is the one Secrets Manager call the sources loader makes.
type SecretGetter interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

// Load loads and validates the webhook sources: TENAZ_SOURCES when set, else the
// secret named by TENAZ_SOURCES_SECRET_ID, fetched through secrets (which may be nil
// when TENAZ_SOURCES is set).
func Load(ctx context.Context, getenv config.Getenv, secrets SecretGetter) (webhook.Sources, error) {
	if inline := strings.TrimSpace(getenv(config.EnvSources)); inline != "" {
		s, err := webhook.ParseSources([]byte(inline))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", config.EnvSources, err)
		}
		return s, nil
	}
	id := strings.TrimSpace(getenv(config.EnvSourcesSecretID))
	if id == "" {
		return nil, fmt.Errorf("no webhook sources: set %s or %s", config.EnvSources, config.EnvSourcesSecretID)
	}
	if secrets == nil {
		return nil, errors.New("sources secret configured but no Secrets Manager client")
	}
	out, err := secrets.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(id)})
	if err != nil {
		return nil, fmt.Errorf("read secret %s: %w", id, err)
	}
	var data []byte
	switch {
	case out.SecretString != nil:
		data = []byte(*out.SecretString)
	case out.SecretBinary != nil:
		data = out.SecretBinary
	default:
		return nil, fmt.Errorf("secret %s has no value", id)
	}
	s, err := webhook.ParseSources(data)
	if err != nil {
		return nil, fmt.Errorf("secret %s: %w", id, err)
	}
	return s, nil
}

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
// when TENAZ_SOURCES is set). Any invalid entry fails the whole load; LoadSet is the
// form that degrades.
func Load(ctx context.Context, getenv config.Getenv, secrets SecretGetter) (webhook.Sources, error) {
	data, where, err := read(ctx, getenv, secrets)
	if err != nil {
		return nil, err
	}
	s, err := webhook.ParseSources(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	return s, nil
}

// read returns the sources JSON and where it came from (TENAZ_SOURCES, or "secret
// <id>"), for errors that name the place and never the value.
func read(ctx context.Context, getenv config.Getenv, secrets SecretGetter) (data []byte, where string, err error) {
	if inline := strings.TrimSpace(getenv(config.EnvSources)); inline != "" {
		return []byte(inline), config.EnvSources, nil
	}
	id := strings.TrimSpace(getenv(config.EnvSourcesSecretID))
	if id == "" {
		return nil, "", fmt.Errorf("no webhook sources: set %s or %s", config.EnvSources, config.EnvSourcesSecretID)
	}
	if secrets == nil {
		return nil, "", errors.New("sources secret configured but no Secrets Manager client")
	}
	out, err := secrets.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(id)})
	if err != nil {
		return nil, "", fmt.Errorf("read secret %s: %w", id, err)
	}
	switch {
	case out.SecretString != nil:
		return []byte(*out.SecretString), "secret " + id, nil
	case out.SecretBinary != nil:
		return out.SecretBinary, "secret " + id, nil
	}
	return nil, "", fmt.Errorf("secret %s has no value", id)
}

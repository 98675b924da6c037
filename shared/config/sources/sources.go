package sources

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/tenaz/tenaz/shared/config"
	"github.com/tenaz/tenaz/shared/secrets/awsstore"
	"github.com/tenaz/tenaz/shared/webhook"
)

// SecretGetter is the one Secrets Manager call the sources loader makes.
type SecretGetter interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

// Stores are the clients the sources may be read through; either may be nil when
// its setting is unset.
type Stores struct {
	Secrets    SecretGetter
	Parameters ParameterGetter
}

// Load loads and validates the webhook sources: TENAZ_SOURCES when set, else the
// secret named by TENAZ_SOURCES_SECRET_ID, fetched through secrets (which may be nil
// when TENAZ_SOURCES is set). Any invalid entry fails the whole load; LoadSet is the
// form that degrades. LoadFrom also reads an SSM parameter.
func Load(ctx context.Context, getenv config.Getenv, secrets SecretGetter) (webhook.Sources, error) {
	return LoadFrom(ctx, getenv, Stores{Secrets: secrets})
}

// LoadFrom is Load with every store: TENAZ_SOURCES when set, else the parameter
// named by TENAZ_SOURCES_PARAMETER (read decrypted), else the secret named by
// TENAZ_SOURCES_SECRET_ID.
func LoadFrom(ctx context.Context, getenv config.Getenv, st Stores) (webhook.Sources, error) {
	data, where, err := read(ctx, getenv, st)
	if err != nil {
		return nil, err
	}
	s, err := webhook.ParseSources(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	return s, nil
}

// read returns the sources JSON and where it came from (TENAZ_SOURCES, "parameter
// <name>" or "secret <id>"), for errors that name the place and never the value.
func read(ctx context.Context, getenv config.Getenv, st Stores) (data []byte, where string, err error) {
	if inline := strings.TrimSpace(getenv(config.EnvSources)); inline != "" {
		return []byte(inline), config.EnvSources, nil
	}
	if name := strings.TrimSpace(getenv(config.EnvSourcesParameter)); name != "" {
		return readParameter(ctx, st.Parameters, name)
	}
	id := strings.TrimSpace(getenv(config.EnvSourcesSecretID))
	if id == "" {
		return nil, "", fmt.Errorf("no webhook sources: set %s, %s or %s", config.EnvSources, config.EnvSourcesParameter, config.EnvSourcesSecretID)
	}
	if st.Secrets == nil {
		return nil, "", errors.New("sources secret configured but no Secrets Manager client")
	}
	out, err := st.Secrets.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(id)})
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

// readParameter reads the sources parameter, decrypted when it is a SecureString
// (a String parameter is read as it is).
func readParameter(ctx context.Context, params ParameterGetter, name string) ([]byte, string, error) {
	if params == nil {
		return nil, "", errors.New("sources parameter configured but no SSM client")
	}
	v, err := params.Read(ctx, name)
	if errors.Is(err, awsstore.ErrNoValue) {
		return nil, "", fmt.Errorf("parameter %s has no value", name)
	}
	if err != nil {
		return nil, "", fmt.Errorf("read parameter %s: %w", name, err)
	}
	return []byte(v), "parameter " + name, nil
}

// ParameterGetter reads one SSM Parameter Store parameter, decrypted when it is a
// SecureString (awsstore.Parameters, the SDK's SSM client).
type ParameterGetter interface {
	Read(ctx context.Context, name string) (string, error)
}

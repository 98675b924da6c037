package config

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
)

// Names of the settings shared by Tenaz's functions. They are a contract with the
// template, the local runner and operators' tooling.
const (
	EnvQueueURL        = "TENAZ_QUEUE_URL"         // main queue URL (required by ingest and processor)
	EnvSources         = "TENAZ_SOURCES"           // inline sources JSON
	EnvSourcesSecretID = "TENAZ_SOURCES_SECRET_ID" // Secrets Manager secret holding the sources JSON
	// EnvSourcesParameter is the SSM Parameter Store parameter (name or ARN; a
	// SecureString, read decrypted) holding the sources JSON. It wins over
	// EnvSourcesSecretID; TENAZ_SOURCES wins over both.
	EnvSourcesParameter = "TENAZ_SOURCES_PARAMETER"
	EnvSourcesRefresh   = "TENAZ_SOURCES_REFRESH_SECONDS" // re-read of the sources parameter or secret, seconds; default 300
	EnvMaxBodyBytes     = "TENAZ_MAX_BODY_BYTES"          // webhook body limit, bytes; default 6291456 (what Lambda can receive)
	EnvLogLevel         = "TENAZ_LOG_LEVEL"               // debug | info | warn | error; default info
	// EnvBodyBucket is the S3 bucket of the claim-check body store (every function
	// that reads or writes the queue); empty = no store: bodies travel inline only.
	EnvBodyBucket = "TENAZ_BODY_BUCKET"
	// EnvInlineMaxBytes is the largest queue message that carries its body inline,
	// bytes; larger ones go through the body store. Default 458752 (7 × 64 KiB).
	EnvInlineMaxBytes = "TENAZ_INLINE_MAX_BYTES"
)

// Getenv is os.Getenv's shape, injected so tests need no process environment.
type Getenv func(string) string

// Required returns the value of name or an error naming it.
func Required(getenv Getenv, name string) (string, error) {
	v := strings.TrimSpace(getenv(name))
	if v == "" {
		return "", fmt.Errorf("%s is not set", name)
	}
	return v, nil
}

// Int returns the integer value of name, def when unset, and an error when it is not
// an integer within [min, max].
func Int(getenv Getenv, name string, def, min, max int) (int, error) {
	raw := strings.TrimSpace(getenv(name))
	if raw == "" {
		return def, nil
	}
	v, err := strconv.Atoi(raw)
	if err != nil {
		return 0, fmt.Errorf("%s: %q is not an integer", name, raw)
	}
	if v < min || v > max {
		return 0, fmt.Errorf("%s: %d is outside [%d, %d]", name, v, min, max)
	}
	return v, nil
}

// Duration returns name as a count of unit (e.g. seconds) or def when unset.
func Duration(getenv Getenv, name string, unit, def time.Duration, min, max int) (time.Duration, error) {
	n, err := Int(getenv, name, -1, min, max)
	if err != nil {
		return 0, err
	}
	if n == -1 && strings.TrimSpace(getenv(name)) == "" {
		return def, nil
	}
	return time.Duration(n) * unit, nil
}

// AWS loads the SDK configuration from the environment (region, credentials,
// AWS_ENDPOINT_URL) with the SDK's standard retryer: up to 3 attempts with jittered
// exponential backoff, the SDK default, which Tenaz keeps.
func AWS(ctx context.Context) (aws.Config, error) {
	cfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return aws.Config{}, fmt.Errorf("load AWS config: %w", err)
	}
	return cfg, nil
}

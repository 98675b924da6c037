package awsstore

import (
	"context"
	"errors"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
)

// SSMClient is the SSM call Parameters makes (*ssm.Client).
type SSMClient interface {
	GetParameter(ctx context.Context, in *ssm.GetParameterInput, optFns ...func(*ssm.Options)) (*ssm.GetParameterOutput, error)
}

// SecretsManagerClient is the Secrets Manager call Secrets makes
// (*secretsmanager.Client).
type SecretsManagerClient interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, optFns ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

// ErrNoValue: the service answered without a value (no parameter value, no secret
// string nor binary).
var ErrNoValue = errors.New("the store answered without a value")

// Parameters reads SSM parameters by name, decrypted when they are SecureStrings.
type Parameters struct{ client SSMClient }

// NewParameters returns the SSM store over client.
func NewParameters(client SSMClient) *Parameters { return &Parameters{client: client} }

// Read returns the parameter's value.
func (p *Parameters) Read(ctx context.Context, name string) (string, error) {
	out, err := p.client.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(name), WithDecryption: aws.Bool(true)})
	if err != nil {
		return "", err
	}
	if out.Parameter == nil || out.Parameter.Value == nil {
		return "", ErrNoValue
	}
	return *out.Parameter.Value, nil
}

// Secrets reads Secrets Manager secrets by name or ARN: the AWSCURRENT version's
// SecretString, else its SecretBinary.
type Secrets struct{ client SecretsManagerClient }

// NewSecrets returns the Secrets Manager store over client.
func NewSecrets(client SecretsManagerClient) *Secrets { return &Secrets{client: client} }

// Read returns the secret's current value.
func (s *Secrets) Read(ctx context.Context, id string) (string, error) {
	out, err := s.client.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(id)})
	if err != nil {
		return "", err
	}
	switch {
	case out.SecretString != nil:
		return *out.SecretString, nil
	case out.SecretBinary != nil:
		return string(out.SecretBinary), nil
	}
	return "", ErrNoValue
}

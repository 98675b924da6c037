package sources

import (
	"context"
	"errors"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
)

// ParameterGetter reads one SSM Parameter Store parameter, decrypted when it is a
// SecureString. ParameterStore is the one Tenaz uses.
type ParameterGetter interface {
	GetParameter(ctx context.Context, name string) (string, error)
}

// SSMClient is the SSM call ParameterStore makes (*ssm.Client).
type SSMClient interface {
	GetParameter(ctx context.Context, in *ssm.GetParameterInput, optFns ...func(*ssm.Options)) (*ssm.GetParameterOutput, error)
}

// ParameterStore reads parameters with the SDK's SSM client: GetParameter with
// decryption, retried (throttling, 5xx, connection errors) by the client's retryer.
type ParameterStore struct {
	client SSMClient
}

// NewParameterStore returns a ParameterStore over client.
func NewParameterStore(client SSMClient) *ParameterStore {
	return &ParameterStore{client: client}
}

// GetParameter returns the parameter's value, decrypted. Errors are the SDK's
// (ParameterNotFound, AccessDeniedException, …) and never carry the value.
func (p *ParameterStore) GetParameter(ctx context.Context, name string) (string, error) {
	out, err := p.client.GetParameter(ctx, &ssm.GetParameterInput{Name: aws.String(name), WithDecryption: aws.Bool(true)})
	if err != nil {
		return "", err
	}
	if out.Parameter == nil || out.Parameter.Value == nil {
		return "", errNoValue
	}
	return *out.Parameter.Value, nil
}

// errNoValue: SSM answered without a value.
var errNoValue = errors.New("no value")

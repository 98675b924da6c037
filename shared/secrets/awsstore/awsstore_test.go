package awsstore

import (
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
)

type fakeSSM struct {
	in  *ssm.GetParameterInput
	out *ssm.GetParameterOutput
	err error
}

func (f *fakeSSM) GetParameter(_ context.Context, in *ssm.GetParameterInput, _ ...func(*ssm.Options)) (*ssm.GetParameterOutput, error) {
	f.in = in
	return f.out, f.err
}

type fakeSM struct {
	in  *secretsmanager.GetSecretValueInput
	out *secretsmanager.GetSecretValueOutput
	err error
}

func (f *fakeSM) GetSecretValue(_ context.Context, in *secretsmanager.GetSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	f.in = in
	return f.out, f.err
}

func TestParametersReadDecrypted(t *testing.T) {
	t.Parallel()
	f := &fakeSSM{out: &ssm.GetParameterOutput{Parameter: &ssmtypes.Parameter{Value: aws.String("whsec_dmFsdWU=")}}}
	v, err := NewParameters(f).Read(context.Background(), "/tenaz/s/deliveries/x")
	if err != nil || v != "whsec_dmFsdWU=" {
		t.Fatalf("%q, %v", v, err)
	}
	if aws.ToString(f.in.Name) != "/tenaz/s/deliveries/x" || !aws.ToBool(f.in.WithDecryption) {
		t.Fatalf("request %+v: want the name, with decryption", f.in)
	}
	f.out = &ssm.GetParameterOutput{}
	if _, err := NewParameters(f).Read(context.Background(), "x"); !errors.Is(err, ErrNoValue) {
		t.Fatalf("no value: %v", err)
	}
	f.err = errors.New("ParameterNotFound")
	if _, err := NewParameters(f).Read(context.Background(), "x"); err == nil {
		t.Fatal("error not returned")
	}
}

func TestSecretsReadStringOrBinary(t *testing.T) {
	t.Parallel()
	f := &fakeSM{out: &secretsmanager.GetSecretValueOutput{SecretString: aws.String("tok")}}
	v, err := NewSecrets(f).Read(context.Background(), "tenaz/s/deliveries/t")
	if err != nil || v != "tok" || aws.ToString(f.in.SecretId) != "tenaz/s/deliveries/t" {
		t.Fatalf("%q, %v, request %+v", v, err, f.in)
	}
	f.out = &secretsmanager.GetSecretValueOutput{SecretBinary: []byte("bin")}
	if v, err := NewSecrets(f).Read(context.Background(), "x"); err != nil || v != "bin" {
		t.Fatalf("binary: %q, %v", v, err)
	}
	f.out = &secretsmanager.GetSecretValueOutput{}
	if _, err := NewSecrets(f).Read(context.Background(), "x"); !errors.Is(err, ErrNoValue) {
		t.Fatalf("no value: %v", err)
	}
}

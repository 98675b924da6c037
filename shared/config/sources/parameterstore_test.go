package sources

import (
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
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

// The parameter is asked for by name, decrypted, and its value returned; an answer
// without a value and an SDK error are errors.
func TestParameterStore(t *testing.T) {
	ctx := context.Background()
	f := &fakeSSM{out: &ssm.GetParameterOutput{Parameter: &ssmtypes.Parameter{Name: aws.String("/tenaz/s"), Value: aws.String(`{"a":1}`)}}}
	v, err := NewParameterStore(f).GetParameter(ctx, "/tenaz/s")
	if err != nil || v != `{"a":1}` {
		t.Fatalf("value %q, err %v", v, err)
	}
	if aws.ToString(f.in.Name) != "/tenaz/s" || !aws.ToBool(f.in.WithDecryption) {
		t.Fatalf("request %+v, want the name with decryption", f.in)
	}
	f.out = &ssm.GetParameterOutput{}
	if _, err := NewParameterStore(f).GetParameter(ctx, "/tenaz/s"); !errors.Is(err, errNoValue) {
		t.Fatal("an answer without a value: no error")
	}
	notFound := &ssmtypes.ParameterNotFound{Message: aws.String("not found")}
	f.err = notFound
	if _, err := NewParameterStore(f).GetParameter(ctx, "/tenaz/s"); !errors.Is(err, notFound) {
		t.Fatalf("err %v, want the SDK's", err)
	}
}

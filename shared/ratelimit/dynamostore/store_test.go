package dynamostore

import (
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/tenaz/tenaz/shared/internal/awstest"
	"github.com/tenaz/tenaz/shared/ratelimit"
	"github.com/tenaz/tenaz/shared/retry"
)

// fakeAPI answers every call with err, or, for UpdateItem, records the request.
type fakeAPI struct {
	err  error
	last *dynamodb.UpdateItemInput
}

func (f *fakeAPI) GetItem(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	return nil, f.err
}

func (f *fakeAPI) UpdateItem(_ context.Context, in *dynamodb.UpdateItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	f.last = in
	if f.err != nil {
		return nil, f.err
	}
	return &dynamodb.UpdateItemOutput{}, nil
}

func TestTakeErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tests := []struct {
		name               string
		err                error
		allowed, transient bool
		permanent          bool
	}{
		{"condition failed is a refusal", awstest.DynamoDBError(400, &types.ConditionalCheckFailedException{Message: aws.String("The conditional request failed")}), false, false, false},
		{"throttled", awstest.DynamoDBError(400, &types.ProvisionedThroughputExceededException{}), false, true, false},
		{"server fault", awstest.DynamoDBError(500, &types.InternalServerError{}), false, true, false},
		{"missing table", awstest.DynamoDBError(400, &types.ResourceNotFoundException{}), false, false, true},
		{"allowed", nil, true, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			api := &fakeAPI{err: tt.err}
			ok, err := New("breakers", api).Take(ctx, "crm", 1893499200, 5)
			if ok != tt.allowed || errors.Is(err, ratelimit.ErrUnavailable) != tt.transient || retry.IsPermanent(err) != tt.permanent {
				t.Fatalf("take = %v, %v", ok, err)
			}
			if tt.err != nil && err != nil && !errors.Is(err, tt.err) {
				t.Fatalf("take lost the cause: %v", err)
			}
			if !tt.transient && !tt.permanent && err != nil {
				t.Fatalf("take = %v, %v; want no error", ok, err)
			}
			k, _ := api.last.Key[AttrName].(*types.AttributeValueMemberS)
			if k == nil || k.Value != "rate#crm#1893499200" {
				t.Fatalf("take wrote the item %#v, want rate#crm#1893499200", api.last.Key)
			}
		})
	}
}

func TestDecode(t *testing.T) {
	t.Parallel()
	const name = "rate#crm#1"
	s := func(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
	num := func(v string) types.AttributeValue { return &types.AttributeValueMemberN{Value: v} }
	if got, err := decode(name, nil); got != 0 || err != nil {
		t.Fatalf("decode of no item = %d, %v", got, err)
	}
	if got, err := decode(name, map[string]types.AttributeValue{AttrName: s(name), AttrTaken: num("7"), AttrExpiresAt: num("62")}); got != 7 || err != nil {
		t.Fatalf("decode = %d, %v; want 7", got, err)
	}
	for what, item := range map[string]map[string]types.AttributeValue{
		"a breaker":       {AttrName: s(name), "state": s("closed")},
		"count as string": {AttrName: s(name), AttrTaken: s("7")},
		"negative count":  {AttrName: s(name), AttrTaken: num("-1")},
		"fractional":      {AttrName: s(name), AttrTaken: num("1.5")},
		"another name":    {AttrName: s("rate#crm#2"), AttrTaken: num("1")},
	} {
		if _, err := decode(name, item); !retry.IsPermanent(err) {
			t.Errorf("%s: decode = %v, want a permanent error", what, err)
		}
	}
}

package dynamostore

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/tenaz/tenaz/shared/idempotency"
	"github.com/tenaz/tenaz/shared/retry"
)

// halfWritten answers every claim with a failed condition whose old item holds only
// the key, as a non-atomic emulator can show a concurrent claim's item.
type halfWritten struct{ API }

func (halfWritten) UpdateItem(_ context.Context, in *dynamodb.UpdateItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	return nil, &types.ConditionalCheckFailedException{Item: map[string]types.AttributeValue{AttrID: in.Key[AttrID]}}
}

// A key-only record is a claim in progress elsewhere: the answer is "try again
// later" (transient), never a permanent error that would dead-letter a live event.
func TestClaimSeesHalfWrittenRecordAsUnavailable(t *testing.T) {
	t.Parallel()
	st := New("t", halfWritten{}, Options{})
	now := time.Now()
	_, err := st.Claim(context.Background(), idempotency.ClaimRequest{
		Key: "s:1", PayloadHash: "h", LeaseToken: "tok", LeaseExpiresAtMs: now.Add(time.Minute).UnixMilli(),
		ExpiresAt: now.Add(time.Hour).Unix(), Now: now,
	})
	if !errors.Is(err, idempotency.ErrUnavailable) || retry.IsPermanent(err) {
		t.Fatalf("err = %v, want ErrUnavailable and not permanent", err)
	}
}

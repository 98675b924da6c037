package dynamostore

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/tenaz/tenaz/shared/ddb"
	"github.com/tenaz/tenaz/shared/ratelimit"
	"github.com/tenaz/tenaz/shared/retry"
)

// Attribute names of a window item. They are a contract: operators and reports read
// them. The key and TTL attributes are the breaker table's.
const (
	AttrName      = "name"      // S, the partition key: ratelimit.WindowName(destination, second)
	AttrTaken     = "taken"     // N, deliveries counted in the window
	AttrExpiresAt = "expiresAt" // N, epoch seconds: the TTL attribute, a minute after the window ends
)

// API is the part of the DynamoDB client the store uses. *dynamodb.Client has it.
type API interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
}

// Store is a ratelimit.Store on one DynamoDB table. It is safe for concurrent use.
type Store struct {
	table string
	api   API
}

var _ ratelimit.Store = (*Store)(nil)

// New returns a Store on table (the breaker table) through api.
func New(table string, api API) *Store { return &Store{table: table, api: api} }

func n(v int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(v, 10)}
}

func key(name string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{AttrName: &types.AttributeValueMemberS{Value: name}}
}

// classify is ddb.Classify with ratelimit.ErrUnavailable as the transient mark.
func classify(err error) error { return ddb.Classify(err, ratelimit.ErrUnavailable) }

// Take implements ratelimit.Store: one conditional UpdateItem.
func (s *Store) Take(ctx context.Context, name string, second int64, limit int) (bool, error) {
	if name == "" {
		return false, retry.Permanent(errors.New("take: no destination name"))
	}
	_, err := s.api.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                aws.String(s.table),
		Key:                      key(ratelimit.WindowName(name, second)),
		ConditionExpression:      aws.String("attribute_not_exists(#taken) OR #taken < :limit"),
		UpdateExpression:         aws.String("ADD #taken :one SET #exp = :exp"),
		ExpressionAttributeNames: map[string]string{"#taken": AttrTaken, "#exp": AttrExpiresAt},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":limit": n(int64(limit)), ":one": n(1), ":exp": n(ratelimit.ExpiresAt(second)),
		},
	})
	if err != nil {
		var ccf *types.ConditionalCheckFailedException
		if errors.As(err, &ccf) {
			return false, nil
		}
		return false, fmt.Errorf("take %s at %d: %w", name, second, classify(err))
	}
	return true, nil
}

// Taken implements ratelimit.Store: one strongly consistent GetItem.
func (s *Store) Taken(ctx context.Context, name string, second int64) (int, error) {
	if name == "" {
		return 0, retry.Permanent(errors.New("taken: no destination name"))
	}
	wn := ratelimit.WindowName(name, second)
	out, err := s.api.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(s.table),
		Key:            key(wn),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return 0, fmt.Errorf("taken %s at %d: %w", name, second, classify(err))
	}
	return decode(wn, out.Item)
}

// decode reads the count of a window item; no item is an empty window. An item
// that is not a window is a permanent error: no retry will change it.
func decode(name string, item map[string]types.AttributeValue) (int, error) {
	if len(item) == 0 {
		return 0, nil
	}
	if v, ok := item[AttrName].(*types.AttributeValueMemberS); !ok || v.Value != name {
		return 0, retry.Permanent(fmt.Errorf("decode window %s: attribute %s is %#v", name, AttrName, item[AttrName]))
	}
	v, ok := item[AttrTaken].(*types.AttributeValueMemberN)
	if !ok {
		return 0, retry.Permanent(fmt.Errorf("decode window %s: attribute %s is %T, want N", name, AttrTaken, item[AttrTaken]))
	}
	x, err := strconv.Atoi(v.Value)
	if err != nil || x < 0 {
		return 0, retry.Permanent(fmt.Errorf("decode window %s: attribute %s is %q, want a count", name, AttrTaken, v.Value))
	}
	return x, nil
}

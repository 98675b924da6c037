package local

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/tenaz/tenaz/shared/breaker"
	breakerstore "github.com/tenaz/tenaz/shared/breaker/dynamostore"
	"github.com/tenaz/tenaz/shared/config"
	"github.com/tenaz/tenaz/shared/idempotency"
	"github.com/tenaz/tenaz/shared/idempotency/dynamostore"
	"github.com/tenaz/tenaz/shared/queue"
	"github.com/tenaz/tenaz/shared/ratelimit"
	ratestore "github.com/tenaz/tenaz/shared/ratelimit/dynamostore"
)

// Resources names the AWS resources a pipeline runs on, as the processor's
// environment names them.
type Resources struct {
	QueueURL         string // TENAZ_QUEUE_URL: the webhook queue, with a redrive policy to DLQURL
	DLQURL           string // TENAZ_DLQ_URL
	IdempotencyTable string // TENAZ_IDEMPOTENCY_TABLE
	BreakerTable     string // TENAZ_BREAKER_TABLE; empty on real AWS: breakers in memory
}

// EnvEndpoint is the SDK's setting that points every AWS client at one endpoint: an
// emulator such as moto server or LocalStack.
const EnvEndpoint = "AWS_ENDPOINT_URL"

// DefaultPrefix starts the names of the resources AWSSetup creates on an emulator.
const DefaultPrefix = "tenaz-dev-"

// ResourcesFromEnv reads the resource names from the processor's settings.
func ResourcesFromEnv(getenv config.Getenv) Resources {
	get := func(name string) string { return strings.TrimSpace(getenv(name)) }
	return Resources{QueueURL: get(config.EnvQueueURL), DLQURL: get(config.EnvDLQURL),
		IdempotencyTable: get(config.EnvIdempotencyTable), BreakerTable: get(config.EnvBreakerTable)}
}

// UseAWS reports whether the local runner should run on AWS APIs: an endpoint is set
// (an emulator) or a resource is named (real AWS, or an emulator's).
func UseAWS(getenv config.Getenv) bool {
	return strings.TrimSpace(getenv(EnvEndpoint)) != "" || ResourcesFromEnv(getenv) != Resources{}
}

// SQSAPI is what AWSSetup calls on SQS: the queue adapter's calls, and on an
// emulator the creation of missing queues. *sqs.Client has it.
type SQSAPI interface {
	queue.SQSAPI
	GetQueueUrl(ctx context.Context, in *sqs.GetQueueUrlInput, opts ...func(*sqs.Options)) (*sqs.GetQueueUrlOutput, error)
	CreateQueue(ctx context.Context, in *sqs.CreateQueueInput, opts ...func(*sqs.Options)) (*sqs.CreateQueueOutput, error)
	SetQueueAttributes(ctx context.Context, in *sqs.SetQueueAttributesInput, opts ...func(*sqs.Options)) (*sqs.SetQueueAttributesOutput, error)
}

// DynamoDBAPI is what AWSSetup calls on DynamoDB: both stores' calls, and on an
// emulator the creation of missing tables. *dynamodb.Client has it.
type DynamoDBAPI interface {
	dynamostore.API
	breakerstore.API
	dynamostore.TableAPI
}

// AWSSetup opens the AWS backend of the local runner.
type AWSSetup struct {
	SQS      SQSAPI
	DynamoDB DynamoDBAPI
	// Resources are the names given. With Emulator set, the missing ones are
	// created: both queues or neither (a redrive policy ties them), each table.
	// On real AWS the queues and the idempotency table must be named.
	Resources Resources
	Emulator  bool   // the endpoint is an emulator: creating resources is allowed
	Prefix    string // names of created resources; default DefaultPrefix
	// MaxReceiveCount of a created main queue's redrive policy; default 200, as in
	// the template.
	MaxReceiveCount int
	// VisibilityTimeout of a created main queue; default 30 s.
	VisibilityTimeout time.Duration
}

// AWSEnv is an opened AWS backend.
type AWSEnv struct {
	Backend   Backend
	Resources Resources // every name, created ones included
	Created   []string  // what Open created (queue URLs, table names)
	// VisibilityTimeout is the main queue's own (the runner sets its invocation
	// timeout from it).
	VisibilityTimeout time.Duration
}

// Open names or creates the resources and returns the backend on them: queue.SQS
// for both queues, the DynamoDB idempotency and breaker stores (breakers in memory
// when no breaker table is named on real AWS). Opening again with the same prefix
// reuses what the first call created.
func (s AWSSetup) Open(ctx context.Context) (AWSEnv, error) {
	if s.SQS == nil || s.DynamoDB == nil {
		return AWSEnv{}, errors.New("local: AWSSetup needs SQS and DynamoDB clients")
	}
	if s.Prefix == "" {
		s.Prefix = DefaultPrefix
	}
	if s.MaxReceiveCount == 0 {
		s.MaxReceiveCount = 200
	}
	if s.VisibilityTimeout == 0 {
		s.VisibilityTimeout = 30 * time.Second
	}
	r := s.Resources
	if !s.Emulator {
		var missing []string
		for name, v := range map[string]string{config.EnvQueueURL: r.QueueURL, config.EnvDLQURL: r.DLQURL,
			config.EnvIdempotencyTable: r.IdempotencyTable} {
			if v == "" {
				missing = append(missing, name)
			}
		}
		if len(missing) > 0 {
			slices.Sort(missing)
			return AWSEnv{}, fmt.Errorf("on AWS set %s (resources are created only on an emulator, with %s)",
				strings.Join(missing, ", "), EnvEndpoint)
		}
	}
	env := AWSEnv{}
	if (r.QueueURL == "") != (r.DLQURL == "") {
		return AWSEnv{}, fmt.Errorf("name both queues (%s and %s) or neither", config.EnvQueueURL, config.EnvDLQURL)
	}
	if r.QueueURL == "" {
		var created bool
		var err error
		if r.QueueURL, r.DLQURL, created, err = s.queues(ctx); err != nil {
			return AWSEnv{}, err
		}
		if created {
			env.Created = append(env.Created, r.QueueURL, r.DLQURL)
		}
	}
	for _, t := range []struct {
		name   *string
		suffix string
		create func(context.Context, dynamostore.TableAPI, string, time.Duration) error
	}{
		{&r.IdempotencyTable, "idempotency", dynamostore.CreateTable},
		{&r.BreakerTable, "breakers", breakerstore.CreateTable},
	} {
		if *t.name != "" || !s.Emulator {
			continue
		}
		*t.name = s.Prefix + t.suffix
		created, err := ensureTable(ctx, s.DynamoDB, *t.name, t.create)
		if err != nil {
			return AWSEnv{}, err
		}
		if created {
			env.Created = append(env.Created, *t.name)
		}
	}
	vt, err := visibilityTimeout(ctx, s.SQS, r.QueueURL)
	if err != nil {
		return AWSEnv{}, err
	}
	var breakers breaker.Store = breaker.NewMemoryStore()
	var rates ratelimit.Store = ratelimit.NewMemory()
	if r.BreakerTable != "" {
		breakers = breakerstore.New(r.BreakerTable, s.DynamoDB, breakerstore.Options{})
		rates = ratestore.New(r.BreakerTable, s.DynamoDB)
	}
	var store idempotency.Store = dynamostore.New(r.IdempotencyTable, s.DynamoDB, dynamostore.Options{})
	env.Resources, env.VisibilityTimeout = r, vt
	env.Backend = Backend{Name: BackendAWS, Main: queue.NewSQS(s.SQS, r.QueueURL), DLQ: queue.NewSQS(s.SQS, r.DLQURL),
		Store: store, Breakers: breakers, Rates: rates}
	return env, nil
}

// queues finds the prefixed queues or creates them as the template does: the DLQ
// (14 days' retention), the main queue (4 days) with a redrive policy to it, and
// the DLQ's redrive allow policy naming the main queue. It reports whether it
// created them.
func (s AWSSetup) queues(ctx context.Context) (mainURL, dlqURL string, created bool, err error) {
	main, merr := s.SQS.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(s.Prefix + "webhooks")})
	dlq, derr := s.SQS.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(s.Prefix + "webhooks-dlq")})
	if merr == nil && derr == nil {
		return aws.ToString(main.QueueUrl), aws.ToString(dlq.QueueUrl), false, nil
	}
	for _, err := range []error{merr, derr} {
		if nf := (*sqstypes.QueueDoesNotExist)(nil); err != nil && !errors.As(err, &nf) {
			return "", "", false, fmt.Errorf("look up the %swebhooks queues: %w", s.Prefix, err)
		}
	}
	mainURL, dlqURL, err = s.createQueues(ctx)
	return mainURL, dlqURL, err == nil, err
}

// createQueues creates both queues. CreateQueue answers with an existing queue of
// the same name and attributes, so a half-finished earlier run is completed.
func (s AWSSetup) createQueues(ctx context.Context) (mainURL, dlqURL string, err error) {
	dlq, err := s.SQS.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(s.Prefix + "webhooks-dlq"),
		Attributes: map[string]string{
			string(sqstypes.QueueAttributeNameMessageRetentionPeriod): "1209600", // 14 days
			string(sqstypes.QueueAttributeNameMaximumMessageSize):     "1048576",
		}})
	if err != nil {
		return "", "", fmt.Errorf("create queue %swebhooks-dlq: %w", s.Prefix, err)
	}
	dlqURL = aws.ToString(dlq.QueueUrl)
	dlqARN, err := queue.NewSQS(s.SQS, dlqURL).ARN(ctx)
	if err != nil {
		return "", "", err
	}
	policy, _ := json.Marshal(map[string]string{"deadLetterTargetArn": dlqARN, "maxReceiveCount": strconv.Itoa(s.MaxReceiveCount)})
	main, err := s.SQS.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(s.Prefix + "webhooks"),
		Attributes: map[string]string{
			string(sqstypes.QueueAttributeNameVisibilityTimeout):      strconv.Itoa(int(s.VisibilityTimeout / time.Second)),
			string(sqstypes.QueueAttributeNameMessageRetentionPeriod): "345600", // 4 days
			string(sqstypes.QueueAttributeNameMaximumMessageSize):     "1048576",
			string(sqstypes.QueueAttributeNameRedrivePolicy):          string(policy),
		}})
	if err != nil {
		return "", "", fmt.Errorf("create queue %swebhooks: %w", s.Prefix, err)
	}
	mainURL = aws.ToString(main.QueueUrl)
	mainARN, err := queue.NewSQS(s.SQS, mainURL).ARN(ctx)
	if err != nil {
		return "", "", err
	}
	allow, _ := json.Marshal(map[string]any{"redrivePermission": "byQueue", "sourceQueueArns": []string{mainARN}})
	if _, err := s.SQS.SetQueueAttributes(ctx, &sqs.SetQueueAttributesInput{QueueUrl: aws.String(dlqURL),
		Attributes: map[string]string{string(sqstypes.QueueAttributeNameRedriveAllowPolicy): string(allow)}}); err != nil {
		return "", "", fmt.Errorf("set the redrive allow policy of %s: %w", dlqURL, err)
	}
	return mainURL, dlqURL, nil
}

// ensureTable creates table unless it exists; it reports whether it created it.
func ensureTable(ctx context.Context, api dynamostore.TableAPI, table string,
	create func(context.Context, dynamostore.TableAPI, string, time.Duration) error) (bool, error) {
	_, err := api.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)})
	if err == nil {
		return false, nil
	}
	if nf := (*ddbtypes.ResourceNotFoundException)(nil); !errors.As(err, &nf) {
		return false, fmt.Errorf("describe table %s: %w", table, err)
	}
	if err := create(ctx, api, table, 30*time.Second); err != nil {
		return false, err
	}
	return true, nil
}

// visibilityTimeout reads the queue's default visibility timeout.
func visibilityTimeout(ctx context.Context, api queue.SQSAPI, url string) (time.Duration, error) {
	out, err := api.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(url),
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameVisibilityTimeout}})
	if err != nil {
		return 0, fmt.Errorf("read the visibility timeout of %s: %w", url, err)
	}
	secs, err := strconv.Atoi(out.Attributes[string(sqstypes.QueueAttributeNameVisibilityTimeout)])
	if err != nil || secs <= 0 {
		return 0, fmt.Errorf("queue %s has no usable VisibilityTimeout (%q)", url, out.Attributes[string(sqstypes.QueueAttributeNameVisibilityTimeout)])
	}
	return time.Duration(secs) * time.Second, nil
}

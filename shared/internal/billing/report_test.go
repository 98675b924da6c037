package billing_test

import (
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/tenaz/tenaz/shared/internal/billing"
)

func TestClassify(t *testing.T) {
	t.Parallel()
	tests := []struct {
		service, operation string
		want               billing.Class
	}{
		{"SQS", "SendMessage", billing.SQSRequest},
		{"SQS", "ReceiveMessage", billing.SQSRequest},
		{"SQS", "GetQueueAttributes", billing.SQSRequest},
		{"DynamoDB", "GetItem", billing.DynamoDBRead},
		{"DynamoDB", "Query", billing.DynamoDBRead},
		{"DynamoDB", "BatchGetItem", billing.DynamoDBRead},
		{"DynamoDB", "UpdateItem", billing.DynamoDBWrite},
		{"DynamoDB", "PutItem", billing.DynamoDBWrite},
		{"DynamoDB", "TransactWriteItems", billing.DynamoDBWrite},
		{"DynamoDB", "DescribeTable", billing.Other},
		{"DynamoDB", "ExecuteStatement", billing.Other},
		{"S3", "PutObject", billing.S3Put},
		{"S3", "CopyObject", billing.S3Put},
		{"S3", "ListObjects", billing.S3Put},
		{"S3", "ListObjectsV2", billing.S3Put},
		{"S3", "GetObject", billing.S3Get},
		{"S3", "HeadObject", billing.S3Get},
		{"S3", "DeleteObject", billing.Free},
		{"S3", "CreateBucket", billing.Other},
		{"SQS", "PutObject", billing.SQSRequest},
		{"DynamoDB", "GetObject", billing.Other},
		{"Secrets Manager", "GetSecretValue", billing.Other},
		{"", "", billing.Other},
	}
	for _, tc := range tests {
		if got := billing.Classify(billing.Op{Service: tc.service, Operation: tc.operation}); got != tc.want {
			t.Errorf("Classify(%s.%s) = %s, want %s", tc.service, tc.operation, got, tc.want)
		}
	}
}

func TestItemSize(t *testing.T) {
	t.Parallel()
	s := func(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
	n := func(v string) types.AttributeValue { return &types.AttributeValueMemberN{Value: v} }
	tests := []struct {
		name string
		item map[string]types.AttributeValue
		want int
	}{
		{"empty", map[string]types.AttributeValue{}, 0},
		{"string: name + bytes", map[string]types.AttributeValue{"id": s("stripe:evt_1")}, 2 + 12},
		{"utf-8 bytes, not runes", map[string]types.AttributeValue{"n": s("é")}, 1 + 2},
		{"number of 13 digits", map[string]types.AttributeValue{"ms": n("1767225600123")}, 2 + 7 + 1},
		{"number: zeros trimmed", map[string]types.AttributeValue{"x": n("1000")}, 1 + 1 + 1},
		{"number: fraction", map[string]types.AttributeValue{"x": n("-0.0125")}, 1 + 2 + 1},
		{"zero", map[string]types.AttributeValue{"x": n("0")}, 1 + 2},
		{"binary", map[string]types.AttributeValue{"b": &types.AttributeValueMemberB{Value: make([]byte, 10)}}, 1 + 10},
		{"bool and null", map[string]types.AttributeValue{"t": &types.AttributeValueMemberBOOL{Value: true},
			"z": &types.AttributeValueMemberNULL{Value: true}}, 1 + 1 + 1 + 1},
		{"empty map", map[string]types.AttributeValue{"steps": &types.AttributeValueMemberM{}}, 5 + 3},
		{"map: keys, elements, overhead", map[string]types.AttributeValue{"steps": &types.AttributeValueMemberM{
			Value: map[string]types.AttributeValue{"crm": &types.AttributeValueMemberB{Value: []byte("ok")}}}}, 5 + 3 + 1 + 3 + 2},
		{"list", map[string]types.AttributeValue{"l": &types.AttributeValueMemberL{Value: []types.AttributeValue{s("ab"), n("7")}}},
			1 + 3 + (1 + 2) + (1 + 2)},
		{"string set", map[string]types.AttributeValue{"ss": &types.AttributeValueMemberSS{Value: []string{"a", "bc"}}}, 2 + 3},
	}
	for _, tc := range tests {
		if got := billing.ItemSize(tc.item); got != tc.want {
			t.Errorf("%s: ItemSize = %d, want %d", tc.name, got, tc.want)
		}
	}
}

func TestUsagePerWebhook(t *testing.T) {
	t.Parallel()
	u := billing.Usage{
		APIGateway:  20,
		Invocations: map[string]int{billing.FnIngest: 20, billing.FnProcessor: 2},
		Requests: billing.Counts{
			{Service: "SQS", Operation: "SendMessage"}:        20,
			{Service: "SQS", Operation: "ReceiveMessage"}:     2,
			{Service: "SQS", Operation: "DeleteMessageBatch"}: 2,
			{Service: "DynamoDB", Operation: "UpdateItem"}:    40,
			{Service: "DynamoDB", Operation: "GetItem"}:       1,
			{Service: "DynamoDB", Operation: "DescribeTable"}: 5, // control plane: in no figure
		},
		LogBytes: 700,
	}
	got := u.PerWebhook(20)
	want := billing.PerWebhook{APIGateway: 1, LambdaInvokes: 1.1, SQS: 1.2, SQSCalls: 1.2, DynamoDBReads: 0.05, DynamoDBWrites: 2,
		Billable: (20 + 22 + 24 + 1 + 40) / 20.0, LogBytes: 35}
	if got != want {
		t.Errorf("PerWebhook(20) = %+v\nwant %+v", got, want)
	}
	if sum := got.APIGateway + got.LambdaInvokes + got.SQS + got.DynamoDBReads + got.DynamoDBWrites; sum-got.Billable > 1e-9 || got.Billable-sum > 1e-9 {
		t.Errorf("billable %v is not the sum of its parts %v", got.Billable, sum)
	}
}

// SQS is billed in 64 KB chunks where they were counted; the claim check's S3
// requests are billable, its free DELETE is not.
func TestUsagePerWebhookChunksAndS3(t *testing.T) {
	t.Parallel()
	send := billing.Op{Service: "SQS", Operation: "SendMessage"}
	recv := billing.Op{Service: "SQS", Operation: "ReceiveMessage"}
	del := billing.Op{Service: "SQS", Operation: "DeleteMessageBatch"}
	u := billing.Usage{
		APIGateway:  10,
		Invocations: map[string]int{billing.FnIngest: 10, billing.FnProcessor: 1},
		Requests: billing.Counts{send: 10, recv: 1, del: 1,
			{Service: "S3", Operation: "PutObject"}: 10, {Service: "S3", Operation: "GetObject"}: 10,
			{Service: "S3", Operation: "DeleteObject"}: 10},
		SQSChunks: billing.Counts{send: 20, recv: 16}, // DeleteMessageBatch absent: one each
	}
	got := u.PerWebhook(10)
	want := billing.PerWebhook{APIGateway: 1, LambdaInvokes: 1.1, SQS: 3.7, SQSCalls: 1.2, S3Puts: 1, S3Gets: 1,
		Billable: (10 + 11 + 37 + 10 + 10) / 10.0}
	if math.Abs(got.SQS-want.SQS) > 1e-9 || math.Abs(got.Billable-want.Billable) > 1e-9 {
		t.Fatalf("PerWebhook(10) = %+v\nwant %+v", got, want)
	}
	got.SQS, got.Billable = want.SQS, want.Billable
	if got != want {
		t.Errorf("PerWebhook(10) = %+v\nwant %+v", got, want)
	}
}

func TestReportJSONShape(t *testing.T) {
	t.Parallel()
	u := billing.Usage{APIGateway: 10, Invocations: map[string]int{billing.FnIngest: 10, billing.FnProcessor: 1},
		Requests: billing.Counts{{Service: "SQS", Operation: "SendMessage"}: 10}}
	r := billing.Report{Webhooks: 10, BatchSize: 10, BreakerReadsPerRecord: 0.1, MaxIdempotencyItemBytes: 200,
		Scenarios: []billing.Scenario{billing.NewScenario("happy", "accepted and applied once", 10, u)}}
	raw, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	if err := json.Unmarshal(raw, &back); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"webhooks", "batchSize", "breakerReadsPerRecord", "maxIdempotencyItemBytes", "scenarios"} {
		if _, ok := back[k]; !ok {
			t.Errorf("report JSON has no %q: %s", k, raw)
		}
	}
	sc := back["scenarios"].([]any)[0].(map[string]any)
	for _, k := range []string{"name", "description", "webhooks", "perWebhook", "lambda", "operations"} {
		if _, ok := sc[k]; !ok {
			t.Errorf("scenario JSON has no %q: %s", k, raw)
		}
	}
	per := sc["perWebhook"].(map[string]any)
	for _, k := range []string{"apiGateway", "lambdaInvokes", "sqs", "sqsCalls", "dynamodbReads", "dynamodbWrites", "s3Puts", "s3Gets", "billable", "logBytes"} {
		if _, ok := per[k]; !ok {
			t.Errorf("perWebhook JSON has no %q: %s", k, raw)
		}
	}
	lambda := sc["lambda"].(map[string]any)
	if lambda["redrive"] != 0.0 || lambda["ingest"] != 10.0 || lambda["processor"] != 1.0 {
		t.Errorf("lambda = %v, want every function listed with its invocations", lambda)
	}
	if ops := sc["operations"].(map[string]any); ops["SQS.SendMessage"] != 10.0 {
		t.Errorf("operations = %v, want SQS.SendMessage: 10", ops)
	}
	table := r.Table()
	for _, want := range []string{"happy", "SQS.SendMessage=10", "billable", "processor=1"} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %q:\n%s", want, table)
		}
	}
}

func TestCountsSub(t *testing.T) {
	t.Parallel()
	recv := billing.Op{Service: "SQS", Operation: "ReceiveMessage"}
	send := billing.Op{Service: "SQS", Operation: "SendMessage"}
	c := billing.Counts{recv: 7, send: 3}
	got := c.Sub(billing.Counts{recv: 2, send: 3})
	if got.String() != "SQS.ReceiveMessage=5" {
		t.Errorf("Sub = %s, want SQS.ReceiveMessage=5", got)
	}
	if c[recv] != 7 {
		t.Errorf("Sub changed its receiver: %s", c)
	}
}

func TestCountsService(t *testing.T) {
	t.Parallel()
	c := billing.Counts{
		{Service: "SQS", Operation: "SendMessage"}:     3,
		{Service: "DynamoDB", Operation: "UpdateItem"}: 4,
		{Service: "DynamoDB", Operation: "GetItem"}:    1,
	}
	if got := c.Service(billing.ServiceDynamoDB).String(); got != "DynamoDB.GetItem=1 DynamoDB.UpdateItem=4" {
		t.Errorf("Service(DynamoDB) = %s", got)
	}
	if got := c.Service("Lambda").Total(); got != 0 {
		t.Errorf("Service(Lambda) has %d requests, want 0", got)
	}
}

//go:build integration

package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/tenaz/tenaz/shared/breaker"
	"github.com/tenaz/tenaz/shared/breaker/dynamostore"
	ratelimitstore "github.com/tenaz/tenaz/shared/ratelimit/dynamostore"
)

// TestOnMoto pauses, lists and resumes destinations on a breaker table on moto, and
// checks that a processor's Breaker on the same table obeys.
func TestOnMoto(t *testing.T) {
	ep := os.Getenv("TENAZ_TEST_ENDPOINT")
	if ep == "" {
		t.Fatal("TENAZ_TEST_ENDPOINT is not set (infra/moto.sh start prints it)")
	}
	ctx := context.Background()
	cfg, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithRegion("us-east-1"),
		awsconfig.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("test", "test", "")),
		awsconfig.WithBaseEndpoint(ep))
	if err != nil {
		t.Fatal(err)
	}
	api := dynamodb.NewFromConfig(cfg)
	table := fmt.Sprintf("breaker-destination-%d", time.Now().UnixNano())
	if err := dynamostore.CreateTable(ctx, api, table, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = api.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(table)})
	})
	now := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	do := func(args ...string) string {
		t.Helper()
		op, names, err := parseArgs(args)
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		if err := operate(ctx, &out, api, table, op, names, now); err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		return out.String()
	}

	if got := do("status"); !strings.Contains(got, "no breakers yet") {
		t.Fatalf("status of an empty table: %q", got)
	}
	if got := do("pause", "orders.internal"); !strings.HasPrefix(got, "paused orders.internal") || !strings.Contains(got, "PAUSED since 2030-01-01T12:00:00Z") {
		t.Fatalf("pause: %q", got)
	}
	if got := do("pause", "orders.internal"); !strings.Contains(got, "already paused") {
		t.Fatalf("pause again: %q", got)
	}
	if got := do("resume", "crm.example"); !strings.Contains(got, "was not paused") {
		t.Fatalf("resume of a destination not paused: %q", got)
	}
	// A rate-limited route's window items share the table; they are not breakers.
	windows := ratelimitstore.New(table, api)
	if ok, err := windows.Take(ctx, "orders.internal", now.Unix(), 5); err != nil || !ok {
		t.Fatalf("take a rate window = %v, %v", ok, err)
	}
	// A resume that changed nothing wrote nothing: the table lists one breaker, a
	// named status shows the other as an absent breaker is, closed.
	if got := do("status"); strings.Count(got, "\n") != 1 || !strings.HasPrefix(got, "orders.internal") {
		t.Fatalf("status: %q", got)
	}
	got := do("status", "crm.example", "orders.internal")
	lines := strings.Split(strings.TrimSpace(got), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "crm.example") || strings.Contains(lines[0], "PAUSED") ||
		!strings.HasPrefix(lines[1], "orders.internal") || !strings.Contains(lines[1], "PAUSED") {
		t.Fatalf("status: %q", got)
	}

	// A processor container's Breaker on the table holds the paused destination...
	b := breaker.New(dynamostore.New(table, api, dynamostore.Options{}), breaker.Settings{})
	if _, err := b.Allow(ctx, "orders.internal"); !errors.Is(err, breaker.ErrPaused) {
		t.Fatalf("allow a paused destination = %v, want ErrPaused", err)
	}
	if _, err := b.Allow(ctx, "crm.example"); err != nil {
		t.Fatalf("allow another destination = %v", err)
	}
	// ...and lets it through once resumed (a new container: nothing cached).
	if got := do("resume", "orders.internal"); !strings.HasPrefix(got, "resumed orders.internal") || strings.Contains(got, "PAUSED") {
		t.Fatalf("resume: %q", got)
	}
	b = breaker.New(dynamostore.New(table, api, dynamostore.Options{}), breaker.Settings{})
	if tk, err := b.Allow(ctx, "orders.internal"); err != nil || tk.Probe() {
		t.Fatalf("allow a resumed destination = %+v, %v; want a ticket, not a probe", tk, err)
	}
}

package awstest

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// EnvEndpoint names the variable that holds the emulator's base URL.
const EnvEndpoint = "TENAZ_TEST_ENDPOINT"

// Region is the region every test client uses.
const Region = "us-east-1"

// Endpoint returns the emulator's base URL or fails the test.
func Endpoint(t testing.TB) string {
	t.Helper()
	ep := strings.TrimRight(os.Getenv(EnvEndpoint), "/")
	if ep == "" {
		t.Fatalf("%s is not set: integration tests need moto server (run them with `make test`)", EnvEndpoint)
	}
	return ep
}

// Config returns an SDK configuration pointed at the emulator, with fake static
// credentials and the SDK's standard retryer.
func Config(t testing.TB) aws.Config {
	t.Helper()
	ep := Endpoint(t)
	cfg, err := config.LoadDefaultConfig(context.Background(),
		config.WithRegion(Region),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("test", "test", "")),
		config.WithBaseEndpoint(ep),
	)
	if err != nil {
		t.Fatalf("aws config: %v", err)
	}
	return cfg
}

// OneAtATime returns cfg whose clients send one request at a time, in whatever order
// racing goroutines reach it. DynamoDB applies each conditional write atomically;
// moto server handles requests on threads without that guarantee, so a race of
// conditional writes on moto can let two writers win. Race tests of Tenaz's
// conditions use OneAtATime: the writes still race, and each condition is judged on
// what the writes before it left, as DynamoDB would.
func OneAtATime(cfg aws.Config) aws.Config {
	cfg.HTTPClient = &serialClient{next: cfg.HTTPClient}
	return cfg
}

type serialClient struct {
	mu   sync.Mutex
	next aws.HTTPClient
}

func (c *serialClient) Do(r *http.Request) (*http.Response, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	// moto answers once the request is applied: the lock covers the write.
	return c.next.Do(r)
}

// Reset clears every resource in the emulator. Packages that use Reset must not run
// their integration tests in parallel with each other (infra/test.sh runs them with -p 1).
func Reset(t testing.TB) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, Endpoint(t)+"/moto-api/reset", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("reset moto: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("reset moto: HTTP %d", resp.StatusCode)
	}
}

var seq atomic.Int64

// Name returns a resource name unique within the test run, safe for SQS queue and
// DynamoDB table names.
func Name(t testing.TB, prefix string) string {
	t.Helper()
	return fmt.Sprintf("%s-%d-%d", prefix, time.Now().UnixNano()%1e9, seq.Add(1))
}

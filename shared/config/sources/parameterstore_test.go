package sources

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

func testStore(t *testing.T, h http.HandlerFunc) *ParameterStore {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	cfg := aws.Config{Region: "eu-west-1", Credentials: credentials.NewStaticCredentialsProvider("AKID", "SECRET", ""),
		Retryer: func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 0, nil })
			})
		}}
	return NewParameterStore(cfg, srv.URL)
}

// The request is SSM's JSON 1.1 GetParameter, with decryption, signed for ssm in
// the configured region; the answer's value is returned.
func TestParameterStoreRequest(t *testing.T) {
	t.Parallel()
	ps := testStore(t, func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Name           string
			WithDecryption bool
		}
		b, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(b, &in)
		auth := r.Header.Get("Authorization")
		if r.Method != http.MethodPost || r.Header.Get("X-Amz-Target") != "AmazonSSM.GetParameter" ||
			r.Header.Get("Content-Type") != "application/x-amz-json-1.1" || in.Name != "/tenaz/s" || !in.WithDecryption ||
			!strings.Contains(auth, "AWS4-HMAC-SHA256 Credential=AKID/") || !strings.Contains(auth, "/eu-west-1/ssm/aws4_request") ||
			!strings.Contains(auth, "Signature=") || r.Header.Get("X-Amz-Date") == "" {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, `{"__type":"ValidationException","message":"unexpected request"}`)
			return
		}
		_, _ = io.WriteString(w, `{"Parameter":{"Name":"/tenaz/s","Type":"SecureString","Value":"{\"a\":1}","Version":3}}`)
	})
	v, err := ps.GetParameter(context.Background(), "/tenaz/s")
	if err != nil || v != `{"a":1}` {
		t.Fatalf("value %q, err %v", v, err)
	}
}

// A 5xx or a throttle is tried again as the retryer says; a missing parameter is
// not, and its error carries SSM's code.
func TestParameterStoreRetries(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	ps := testStore(t, func(w http.ResponseWriter, r *http.Request) {
		switch calls.Add(1) {
		case 1:
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = io.WriteString(w, `{"__type":"InternalServerError","message":"try again"}`)
		case 2:
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, `{"__type":"ThrottlingException","message":"Rate exceeded"}`)
		default:
			_, _ = io.WriteString(w, `{"Parameter":{"Value":"ok"}}`)
		}
	})
	if v, err := ps.GetParameter(context.Background(), "/p"); err != nil || v != "ok" || calls.Load() != 3 {
		t.Fatalf("value %q, err %v, calls %d, want ok after 3", v, err, calls.Load())
	}

	calls.Store(0)
	missing := testStore(t, func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, `{"__type":"com.amazonaws.ssm#ParameterNotFound","message":"no such parameter"}`)
	})
	_, err := missing.GetParameter(context.Background(), "/p")
	var pe *ParameterError
	if !errors.As(err, &pe) || pe.Code != "ParameterNotFound" || pe.Status != 400 || calls.Load() != 1 {
		t.Fatalf("err %v, calls %d, want one ParameterNotFound", err, calls.Load())
	}
	noValue := testStore(t, func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, `{"Parameter":{}}`) })
	if _, err := noValue.GetParameter(context.Background(), "/p"); !errors.Is(err, errNoValue) {
		t.Fatalf("no value: %v", err)
	}
}

// With no override the endpoint is the base endpoint, else the regional one.
func TestParameterStoreEndpoint(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		cfg  aws.Config
		over string
		want string
	}{
		{aws.Config{Region: "us-east-1"}, "", "https://ssm.us-east-1.amazonaws.com"},
		{aws.Config{Region: "cn-north-1"}, "", "https://ssm.cn-north-1.amazonaws.com.cn"},
		{aws.Config{Region: "us-east-1", BaseEndpoint: aws.String("http://127.0.0.1:5000/")}, "", "http://127.0.0.1:5000"},
		{aws.Config{Region: "us-east-1", BaseEndpoint: aws.String("http://a")}, "http://b", "http://b"},
	} {
		if got := NewParameterStore(c.cfg, c.over).endpoint; got != c.want {
			t.Errorf("%+v %q: endpoint %q, want %q", c.cfg, c.over, got, c.want)
		}
	}
}

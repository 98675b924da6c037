package blob_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/tenaz/tenaz/shared/blob"
)

// fakeS3 answers every call with err, or records the put and serves body.
type fakeS3 struct {
	err  error
	put  *s3.PutObjectInput
	body string
}

func (f *fakeS3) PutObject(_ context.Context, in *s3.PutObjectInput, _ ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	f.put = in
	return &s3.PutObjectOutput{}, f.err
}

func (f *fakeS3) GetObject(context.Context, *s3.GetObjectInput, ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	if f.err != nil {
		return nil, f.err
	}
	return &s3.GetObjectOutput{Body: io.NopCloser(strings.NewReader(f.body))}, nil
}

func TestS3PutRequestsSSEAndRecordsSum(t *testing.T) {
	f := &fakeS3{}
	body := []byte("b")
	if err := blob.NewS3(f, "bucket").Put(context.Background(), "bodies/s/k", blob.Sum(body), body); err != nil {
		t.Fatal(err)
	}
	if f.put.ServerSideEncryption != types.ServerSideEncryptionAes256 || f.put.Metadata["sha256"] != blob.Sum(body) {
		t.Fatalf("put asked SSE %q, metadata %v", f.put.ServerSideEncryption, f.put.Metadata)
	}
}

func TestS3ErrorsSayWhetherARetryHelps(t *testing.T) {
	cases := []struct {
		name      string
		err       error
		retryable bool
		kind      error
	}{
		{"throttled", &smithy.GenericAPIError{Code: "SlowDown"}, true, nil},
		{"internal", &smithy.GenericAPIError{Code: "InternalError"}, true, nil},
		{"network", errors.New("connection reset"), true, nil},
		{"no such key", &types.NoSuchKey{}, false, blob.ErrNotFound},
		{"no such bucket", &smithy.GenericAPIError{Code: "NoSuchBucket"}, false, nil},
		{"access denied", &smithy.GenericAPIError{Code: "AccessDenied"}, false, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := blob.NewS3(&fakeS3{err: c.err}, "bucket").Get(context.Background(), "bodies/s/k", blob.Sum(nil))
			if err == nil || blob.Retryable(err) != c.retryable {
				t.Fatalf("err %v: retryable %v, want %v", err, blob.Retryable(err), c.retryable)
			}
			if c.kind != nil && !errors.Is(err, c.kind) {
				t.Fatalf("err %v does not match %v", err, c.kind)
			}
		})
	}
	_, err := blob.NewS3(&fakeS3{body: "tampered"}, "bucket").Get(context.Background(), "k", blob.Sum([]byte("original")))
	if !errors.Is(err, blob.ErrHashMismatch) || blob.Retryable(err) {
		t.Fatalf("tampered object: %v, want permanent ErrHashMismatch", err)
	}
}

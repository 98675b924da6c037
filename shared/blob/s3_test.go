package blob_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/tenaz/tenaz/shared/blob"
)

// fakeS3 answers every call with err, or records the put and the copy, serves body,
// and answers a head with meta.
type fakeS3 struct {
	err  error
	put  *s3.PutObjectInput
	copy *s3.CopyObjectInput
	body string
	meta map[string]string
}

func (f *fakeS3) DeleteObject(context.Context, *s3.DeleteObjectInput, ...func(*s3.Options)) (*s3.DeleteObjectOutput, error) {
	return &s3.DeleteObjectOutput{}, f.err
}

func (f *fakeS3) HeadObject(context.Context, *s3.HeadObjectInput, ...func(*s3.Options)) (*s3.HeadObjectOutput, error) {
	if f.err != nil {
		return nil, f.err
	}
	return &s3.HeadObjectOutput{Metadata: f.meta, ETag: aws.String(`"etag-1"`)}, nil
}

func (f *fakeS3) CopyObject(_ context.Context, in *s3.CopyObjectInput, _ ...func(*s3.Options)) (*s3.CopyObjectOutput, error) {
	f.copy = in
	return &s3.CopyObjectOutput{}, f.err
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

func TestS3TouchCopiesOntoItselfKeepingSumAndEncryption(t *testing.T) {
	sum := blob.Sum([]byte("b"))
	f := &fakeS3{meta: map[string]string{"sha256": sum}}
	if err := blob.NewS3(f, "bucket").Touch(context.Background(), "bodies/my src/k"); err != nil {
		t.Fatal(err)
	}
	c := f.copy
	if c == nil {
		t.Fatal("touch made no CopyObject")
	}
	if aws.ToString(c.Bucket) != "bucket" || aws.ToString(c.Key) != "bodies/my src/k" || aws.ToString(c.CopySource) != "bucket/bodies/my%20src/k" {
		t.Fatalf("copy %s/%s from %s, want the object onto itself", aws.ToString(c.Bucket), aws.ToString(c.Key), aws.ToString(c.CopySource))
	}
	if c.MetadataDirective != types.MetadataDirectiveReplace || c.Metadata["sha256"] != sum || c.ServerSideEncryption != types.ServerSideEncryptionAes256 {
		t.Fatalf("copy asked directive %q, metadata %v, SSE %q; want REPLACE with the sha256 kept and AES256", c.MetadataDirective, c.Metadata, c.ServerSideEncryption)
	}
	if aws.ToString(c.CopySourceIfMatch) != `"etag-1"` {
		t.Fatalf("copy is not conditional on the version read: CopySourceIfMatch %q", aws.ToString(c.CopySourceIfMatch))
	}
}

func TestS3DeleteAndTouchErrors(t *testing.T) {
	ctx := context.Background()
	if err := blob.NewS3(&fakeS3{err: &types.NoSuchKey{}}, "b").Delete(ctx, "k"); err != nil {
		t.Fatalf("delete answered NoSuchKey: %v, want success", err)
	}
	if err := blob.NewS3(&fakeS3{err: &smithy.GenericAPIError{Code: "SlowDown"}}, "b").Delete(ctx, "k"); !blob.Retryable(err) {
		t.Fatalf("delete throttled: %v, want retryable", err)
	}
	err := blob.NewS3(&fakeS3{err: &types.NotFound{}}, "b").Touch(ctx, "k")
	if !errors.Is(err, blob.ErrNotFound) || blob.Retryable(err) {
		t.Fatalf("touch of a missing object: %v, want permanent ErrNotFound", err)
	}
	if err := blob.NewS3(&fakeS3{err: errors.New("connection reset")}, "b").Touch(ctx, "k"); !blob.Retryable(err) {
		t.Fatalf("touch during an outage: %v, want retryable", err)
	}
}

func TestNewS3ClientIsPathStyleOnlyWithAnEndpointOverride(t *testing.T) {
	if blob.NewS3Client(aws.Config{Region: "us-east-1"}).Options().UsePathStyle {
		t.Error("path style without an endpoint override")
	}
	if !blob.NewS3Client(aws.Config{Region: "us-east-1", BaseEndpoint: aws.String("http://127.0.0.1:5000")}).Options().UsePathStyle {
		t.Error("virtual-hosted style with an endpoint override")
	}
}

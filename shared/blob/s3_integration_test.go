//go:build integration

package blob_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/tenaz/tenaz/shared/blob"
	"github.com/tenaz/tenaz/shared/blob/blobtest"
	"github.com/tenaz/tenaz/shared/internal/awstest"
)

func newS3Client(t *testing.T) *s3.Client {
	return s3.NewFromConfig(awstest.Config(t), func(o *s3.Options) { o.UsePathStyle = true })
}

func newBucket(t *testing.T, client *s3.Client) string {
	t.Helper()
	name := awstest.Name(t, "tenaz-bodies")
	if _, err := client.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		t.Fatalf("create bucket: %v", err)
	}
	return name
}

func TestS3Contract(t *testing.T) {
	client := newS3Client(t)
	bucket := newBucket(t, client)
	blobtest.Run(t, func(t *testing.T) blobtest.Store { return blob.NewS3(client, bucket) })
}

func TestS3RecordsSumAndEncryption(t *testing.T) {
	client := newS3Client(t)
	bucket := newBucket(t, client)
	body := []byte(`{"a":1}`)
	k, _ := blob.Key("github", "d-1")
	if err := blob.NewS3(client, bucket).Put(context.Background(), k, blob.Sum(body), body); err != nil {
		t.Fatal(err)
	}
	head, err := client.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(k)})
	if err != nil {
		t.Fatal(err)
	}
	if head.Metadata["sha256"] != blob.Sum(body) {
		t.Errorf("metadata = %v, want sha256 %s", head.Metadata, blob.Sum(body))
	}
	if head.ServerSideEncryption != "AES256" {
		t.Errorf("ServerSideEncryption = %q, want AES256", head.ServerSideEncryption)
	}
}

func TestS3MissingBucketIsPermanent(t *testing.T) {
	client := newS3Client(t)
	_, err := blob.NewS3(client, awstest.Name(t, "tenaz-absent")).Get(context.Background(), "bodies/x/y", blob.Sum(nil))
	if err == nil || blob.Retryable(err) || errors.Is(err, blob.ErrHashMismatch) {
		t.Fatalf("get from a missing bucket: %v, want a permanent error", err)
	}
}

func TestS3TouchRestartsTheAgeKeepingSumAndEncryption(t *testing.T) {
	ctx := context.Background()
	client := newS3Client(t)
	bucket := newBucket(t, client)
	store := blob.NewS3(client, bucket)
	body := []byte(`{"large":true}`)
	k, _ := blob.Key("github", "d-touch")
	if err := store.Put(ctx, k, blob.Sum(body), body); err != nil {
		t.Fatal(err)
	}
	head := func() *s3.HeadObjectOutput {
		t.Helper()
		h, err := client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(k)})
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	before := head()
	time.Sleep(1100 * time.Millisecond) // Last-Modified counts whole seconds
	if err := store.Touch(ctx, k); err != nil {
		t.Fatalf("touch: %v", err)
	}
	after := head()
	if !after.LastModified.After(*before.LastModified) {
		t.Errorf("LastModified %v after touch, %v before: the age did not restart", after.LastModified, before.LastModified)
	}
	if after.Metadata["sha256"] != blob.Sum(body) || after.ServerSideEncryption != "AES256" {
		t.Errorf("after touch: metadata %v, SSE %q; want sha256 %s and AES256", after.Metadata, after.ServerSideEncryption, blob.Sum(body))
	}
}

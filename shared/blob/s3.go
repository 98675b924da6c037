package blob

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/url"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

// S3API is the part of the S3 client the adapter uses.
type S3API interface {
	PutObject(ctx context.Context, in *s3.PutObjectInput, optFns ...func(*s3.Options)) (*s3.PutObjectOutput, error)
	GetObject(ctx context.Context, in *s3.GetObjectInput, optFns ...func(*s3.Options)) (*s3.GetObjectOutput, error)
	DeleteObject(ctx context.Context, in *s3.DeleteObjectInput, optFns ...func(*s3.Options)) (*s3.DeleteObjectOutput, error)
	HeadObject(ctx context.Context, in *s3.HeadObjectInput, optFns ...func(*s3.Options)) (*s3.HeadObjectOutput, error)
	CopyObject(ctx context.Context, in *s3.CopyObjectInput, optFns ...func(*s3.Options)) (*s3.CopyObjectOutput, error)
}

// metaSum is the object metadata key holding the body's hex SHA-256.
const metaSum = "sha256"

// S3 is a Store on one S3 bucket.
type S3 struct {
	api    S3API
	bucket string
}

// NewS3 returns a store on bucket.
func NewS3(api S3API, bucket string) *S3 { return &S3{api: api, bucket: bucket} }

// Put implements Store: one PutObject with SSE-S3 and the SHA-256 as metadata.
func (s *S3) Put(ctx context.Context, key, sum string, body []byte) error {
	if err := checkKey("put", key); err != nil {
		return err
	}
	if Sum(body) != sum {
		return &Error{Op: "put", Key: key, Kind: ErrHashMismatch}
	}
	_, err := s.api.PutObject(ctx, &s3.PutObjectInput{
		Bucket:               aws.String(s.bucket),
		Key:                  aws.String(key),
		Body:                 bytes.NewReader(body),
		ContentLength:        aws.Int64(int64(len(body))),
		ServerSideEncryption: types.ServerSideEncryptionAes256,
		Metadata:             map[string]string{metaSum: sum},
	})
	if err != nil {
		return classify("put", key, err)
	}
	return nil
}

// Get implements Store: one GetObject; the body read is checked against sum.
func (s *S3) Get(ctx context.Context, key, sum string) ([]byte, error) {
	if err := checkKey("get", key); err != nil {
		return nil, err
	}
	out, err := s.api.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key)})
	if err != nil {
		return nil, classify("get", key, err)
	}
	defer out.Body.Close()
	body, err := io.ReadAll(out.Body)
	if err != nil {
		// A connection cut mid-body: reading again can succeed.
		return nil, &Error{Op: "get", Key: key, retryable: true, Err: err}
	}
	if Sum(body) != sum {
		return nil, &Error{Op: "get", Key: key, Kind: ErrHashMismatch}
	}
	return body, nil
}

// Delete removes the object under key: one DeleteObject. S3 answers a delete of an
// absent key with success, and so does Delete.
func (s *S3) Delete(ctx context.Context, key string) error {
	if err := checkKey("delete", key); err != nil {
		return err
	}
	_, err := s.api.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key)})
	if err == nil {
		return nil
	}
	if err := classify("delete", key, err); !errors.Is(err, ErrNotFound) {
		return err
	}
	return nil
}

// Touch restarts the object's age, the one a lifecycle expiry rule counts from: a
// HeadObject for its metadata, then a CopyObject of the object onto itself. S3
// refuses a copy onto itself that changes nothing, so the copy replaces the
// metadata (MetadataDirective REPLACE) with the same values, the "sha256" one
// included, and asks for SSE-S3 again. An absent key is ErrNotFound.
func (s *S3) Touch(ctx context.Context, key string) error {
	if err := checkKey("touch", key); err != nil {
		return err
	}
	head, err := s.api.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(s.bucket), Key: aws.String(key)})
	if err != nil {
		return classify("touch", key, err)
	}
	in := &s3.CopyObjectInput{
		Bucket:               aws.String(s.bucket),
		Key:                  aws.String(key),
		CopySource:           aws.String(copySource(s.bucket, key)),
		MetadataDirective:    types.MetadataDirectiveReplace,
		Metadata:             head.Metadata,
		ServerSideEncryption: types.ServerSideEncryptionAes256,
		ContentType:          head.ContentType,
		// Copy only the version just read: an object put again in between is
		// young already, and a copy of the older body would replace it.
		CopySourceIfMatch: head.ETag,
	}
	if _, err := s.api.CopyObject(ctx, in); err != nil {
		var api smithy.APIError
		if errors.As(err, &api) && api.ErrorCode() == "PreconditionFailed" {
			return nil // put again since the head: its age restarted with that put
		}
		return classify("touch", key, err)
	}
	return nil
}

// copySource is the URL-encoded "bucket/key" CopyObject takes.
func copySource(bucket, key string) string {
	parts := strings.Split(key, "/")
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	return url.PathEscape(bucket) + "/" + strings.Join(parts, "/")
}

// classify maps an SDK error to an *Error: a missing object or bucket and a
// refused request are permanent; anything else (outage, throttle, 5xx, network) is
// retryable.
func classify(op, key string, err error) error {
	var nsk *types.NoSuchKey
	var nf *types.NotFound
	if errors.As(err, &nsk) || errors.As(err, &nf) {
		return &Error{Op: op, Key: key, Kind: ErrNotFound, Err: err}
	}
	var api smithy.APIError
	if errors.As(err, &api) {
		switch api.ErrorCode() {
		case "NoSuchKey", "NotFound":
			return &Error{Op: op, Key: key, Kind: ErrNotFound, Err: err}
		case "NoSuchBucket", "AccessDenied", "InvalidRequest", "InvalidArgument", "InvalidBucketName", "KMS.DisabledException":
			return &Error{Op: op, Key: key, Err: err}
		}
	}
	if errors.Is(err, context.Canceled) {
		return &Error{Op: op, Key: key, Err: err}
	}
	return &Error{Op: op, Key: key, retryable: true, Err: err}
}

// NewS3Client returns the S3 client of the body store from cfg. With an endpoint
// override (BaseEndpoint, from AWS_ENDPOINT_URL, as moto server and other
// emulators are reached) it addresses buckets by path, which needs no DNS name per
// bucket. It makes no request.
func NewS3Client(cfg aws.Config) *s3.Client {
	return s3.NewFromConfig(cfg, func(o *s3.Options) {
		o.UsePathStyle = cfg.BaseEndpoint != nil
	})
}

package sources

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// ParameterGetter reads one SSM Parameter Store parameter, decrypted when it is a
// SecureString. ParameterStore is the one Tenaz uses.
type ParameterGetter interface {
	GetParameter(ctx context.Context, name string) (string, error)
}

// ParameterStore makes the one SSM call the sources need, GetParameter with
// decryption, signed with the SDK's SigV4 signer and retried by the SDK's retryer
// from the configuration. It is not the SDK's SSM client: that client's request
// schemas for the whole SSM API would add some 1.2 MB to the ingest binary.
type ParameterStore struct {
	cfg      aws.Config
	endpoint string
	signer   *v4.Signer
	now      func() time.Time
}

// maxParameterResponse bounds the GetParameter answer read: an advanced parameter
// holds at most 8 KB, and the answer carries its metadata beside it.
const maxParameterResponse = 1 << 20

// NewParameterStore returns a ParameterStore for cfg. endpoint overrides the
// service's endpoint (AWS_ENDPOINT_URL_SSM, as the SDK reads it); empty means
// cfg.BaseEndpoint (AWS_ENDPOINT_URL), else the regional endpoint
// https://ssm.<region>.amazonaws.com (.amazonaws.com.cn in China).
func NewParameterStore(cfg aws.Config, endpoint string) *ParameterStore {
	if endpoint == "" {
		endpoint = aws.ToString(cfg.BaseEndpoint)
	}
	if endpoint == "" {
		suffix := "amazonaws.com"
		if strings.HasPrefix(cfg.Region, "cn-") {
			suffix = "amazonaws.com.cn"
		}
		endpoint = "https://ssm." + cfg.Region + "." + suffix
	}
	return &ParameterStore{cfg: cfg, endpoint: strings.TrimRight(endpoint, "/"), signer: v4.NewSigner(), now: time.Now}
}

// ParameterError is an error answer of SSM: its code (ParameterNotFound,
// AccessDeniedException, ThrottlingException, ...) and HTTP status, which the
// SDK's retryer reads to decide whether another try can help.
type ParameterError struct {
	Status  int
	Code    string
	Message string
}

func (e *ParameterError) Error() string {
	return fmt.Sprintf("ssm GetParameter: %s (HTTP %d): %s", e.Code, e.Status, e.Message)
}

// ErrorCode is the SSM error code, for the SDK's retryer.
func (e *ParameterError) ErrorCode() string { return e.Code }

// HTTPStatusCode is the answer's status, for the SDK's retryer.
func (e *ParameterError) HTTPStatusCode() int { return e.Status }

// GetParameter returns the parameter's value, decrypted. Throttling, 5xx answers
// and connection errors are retried as the configuration's retryer says (the
// SDK's standard: 3 attempts with jittered backoff); other errors are returned at
// once.
func (p *ParameterStore) GetParameter(ctx context.Context, name string) (string, error) {
	var r aws.Retryer = retry.NewStandard()
	if p.cfg.Retryer != nil {
		r = p.cfg.Retryer()
	}
	for attempt := 1; ; attempt++ {
		v, err := p.getOnce(ctx, name)
		if err == nil || attempt >= r.MaxAttempts() || !r.IsErrorRetryable(err) {
			return v, err
		}
		delay, derr := r.RetryDelay(attempt, err)
		if derr != nil {
			return "", err
		}
		select {
		case <-ctx.Done():
			return "", errors.Join(err, ctx.Err())
		case <-time.After(delay):
		}
	}
}

func (p *ParameterStore) getOnce(ctx context.Context, name string) (string, error) {
	if p.cfg.Credentials == nil {
		return "", errors.New("ssm GetParameter: no AWS credentials configured")
	}
	body, err := json.Marshal(struct {
		Name           string
		WithDecryption bool
	}{name, true})
	if err != nil {
		return "", err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.endpoint+"/", bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", "AmazonSSM.GetParameter")
	creds, err := p.cfg.Credentials.Retrieve(ctx)
	if err != nil {
		return "", fmt.Errorf("ssm GetParameter: credentials: %w", err)
	}
	sum := sha256.Sum256(body)
	if err := p.signer.SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), "ssm", p.cfg.Region, p.now()); err != nil {
		return "", fmt.Errorf("ssm GetParameter: sign: %w", err)
	}
	var client aws.HTTPClient = http.DefaultClient
	if p.cfg.HTTPClient != nil {
		client = p.cfg.HTTPClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", fmt.Errorf("ssm GetParameter: %w", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxParameterResponse))
	if err != nil {
		return "", fmt.Errorf("ssm GetParameter: read answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Type     string `json:"__type"`
			Message  string `json:"message"`
			Message2 string `json:"Message"`
		}
		_ = json.Unmarshal(raw, &e)
		code := cmpOr(resp.Header.Get("X-Amzn-ErrorType"), e.Type)
		if i := strings.LastIndexAny(code, "#"); i >= 0 {
			code = code[i+1:]
		}
		if i := strings.IndexByte(code, ':'); i >= 0 {
			code = code[:i]
		}
		return "", &ParameterError{Status: resp.StatusCode, Code: cmpOr(code, "Unknown"), Message: cmpOr(e.Message, e.Message2)}
	}
	var out struct{ Parameter *struct{ Value *string } }
	if err := json.Unmarshal(raw, &out); err != nil {
		return "", fmt.Errorf("ssm GetParameter: answer is not JSON: %w", err)
	}
	if out.Parameter == nil || out.Parameter.Value == nil {
		return "", errNoValue
	}
	return *out.Parameter.Value, nil
}

var errNoValue = errors.New("no value")

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

package config

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

func env(m map[string]string) Getenv { return func(k string) string { return m[k] } }

const sourcesJSON = `{"gh": {"scheme": "github", "secrets": ["s3cr3t-value"]}}`

type fakeSecrets struct {
	value *string
	err   error
	calls int
	id    string
}

func (f *fakeSecrets) GetSecretValue(_ context.Context, in *secretsmanager.GetSecretValueInput, _ ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error) {
	f.calls++
	f.id = aws.ToString(in.SecretId)
	if f.err != nil {
		return nil, f.err
	}
	return &secretsmanager.GetSecretValueOutput{SecretString: f.value}, nil
}

func TestSourcesInlineWins(t *testing.T) {
	t.Parallel()
	sm := &fakeSecrets{err: errors.New("must not be called")}
	s, err := Sources(context.Background(), env(map[string]string{EnvSources: sourcesJSON, EnvSourcesSecretID: "arn:x"}), sm)
	if err != nil {
		t.Fatal(err)
	}
	if s["gh"] == nil || sm.calls != 0 {
		t.Fatalf("sources %v, secret calls %d", s, sm.calls)
	}
}

func TestSourcesFromSecret(t *testing.T) {
	t.Parallel()
	sm := &fakeSecrets{value: aws.String(sourcesJSON)}
	s, err := Sources(context.Background(), env(map[string]string{EnvSourcesSecretID: "tenaz/sources"}), sm)
	if err != nil {
		t.Fatal(err)
	}
	if s["gh"] == nil || sm.calls != 1 || sm.id != "tenaz/sources" {
		t.Fatalf("sources %v, calls %d, id %q", s, sm.calls, sm.id)
	}
}

func TestSourcesErrorsNameTheProblemNotTheSecret(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		env  map[string]string
		sm   SecretGetter
		want string
	}{
		"nothing set":     {map[string]string{}, nil, "no webhook sources"},
		"no client":       {map[string]string{EnvSourcesSecretID: "x"}, nil, "no Secrets Manager client"},
		"secret fails":    {map[string]string{EnvSourcesSecretID: "x"}, &fakeSecrets{err: errors.New("AccessDenied")}, "read secret x"},
		"secret empty":    {map[string]string{EnvSourcesSecretID: "x"}, &fakeSecrets{}, "has no value"},
		"secret bad json": {map[string]string{EnvSourcesSecretID: "x"}, &fakeSecrets{value: aws.String(`{"gh": {"scheme": "nope", "secrets": ["s3cr3t-value"]}}`)}, "secret x"},
		"inline bad":      {map[string]string{EnvSources: `{"gh": {"scheme": "github", "secrets": []}}`}, nil, EnvSources},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := Sources(context.Background(), env(c.env), c.sm)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want it to contain %q", err, c.want)
			}
			if strings.Contains(err.Error(), "s3cr3t-value") {
				t.Fatalf("error leaks the secret: %v", err)
			}
		})
	}
}

func TestIntAndDuration(t *testing.T) {
	t.Parallel()
	e := env(map[string]string{"A": "42", "B": "x", "C": "5000", "D": " 7 "})
	if v, err := Int(e, "A", 1, 0, 100); err != nil || v != 42 {
		t.Fatalf("A = %d, %v", v, err)
	}
	if v, err := Int(e, "UNSET", 9, 0, 100); err != nil || v != 9 {
		t.Fatalf("unset = %d, %v", v, err)
	}
	if _, err := Int(e, "B", 1, 0, 100); err == nil || !strings.Contains(err.Error(), "B") {
		t.Fatalf("B err = %v", err)
	}
	if _, err := Int(e, "C", 1, 0, 100); err == nil {
		t.Fatal("C out of range accepted")
	}
	if d, err := Duration(e, "D", time.Second, time.Minute, 0, 100); err != nil || d != 7*time.Second {
		t.Fatalf("D = %v, %v", d, err)
	}
	if d, err := Duration(e, "UNSET", time.Second, time.Minute, 0, 100); err != nil || d != time.Minute {
		t.Fatalf("unset duration = %v, %v", d, err)
	}
	if _, err := Required(e, "UNSET"); err == nil {
		t.Fatal("Required(UNSET) ok")
	}
}

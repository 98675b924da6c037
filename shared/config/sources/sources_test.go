package sources

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/tenaz/tenaz/shared/config"
)

func env(m map[string]string) config.Getenv { return func(k string) string { return m[k] } }

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
	s, err := Load(context.Background(), env(map[string]string{config.EnvSources: sourcesJSON, config.EnvSourcesSecretID: "arn:x"}), sm)
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
	s, err := Load(context.Background(), env(map[string]string{config.EnvSourcesSecretID: "tenaz/sources"}), sm)
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
		"no client":       {map[string]string{config.EnvSourcesSecretID: "x"}, nil, "no Secrets Manager client"},
		"secret fails":    {map[string]string{config.EnvSourcesSecretID: "x"}, &fakeSecrets{err: errors.New("AccessDenied")}, "read secret x"},
		"secret empty":    {map[string]string{config.EnvSourcesSecretID: "x"}, &fakeSecrets{}, "has no value"},
		"secret bad json": {map[string]string{config.EnvSourcesSecretID: "x"}, &fakeSecrets{value: aws.String(`{"gh": {"scheme": "nope", "secrets": ["s3cr3t-value"]}}`)}, "secret x"},
		"inline bad":      {map[string]string{config.EnvSources: `{"gh": {"scheme": "github", "secrets": []}}`}, nil, config.EnvSources},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := Load(context.Background(), env(c.env), c.sm)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want it to contain %q", err, c.want)
			}
			if strings.Contains(err.Error(), "s3cr3t-value") {
				t.Fatalf("error leaks the secret: %v", err)
			}
		})
	}
}

package secrets

import (
	"fmt"
	"strings"
)

// Kind is where a referenced value lives.
type Kind string

// The kinds of reference.
const (
	// KindSSM is an SSM Parameter Store parameter, read decrypted (a SecureString;
	// a String is read as it is): "ssm:<parameter name>".
	KindSSM Kind = "ssm"
	// KindSecretsManager is a Secrets Manager secret's current value (its
	// SecretString, else its SecretBinary): "secretsmanager:<name or ARN>".
	KindSecretsManager Kind = "secretsmanager"
	// KindEnv is an environment variable of the process: "env:<NAME>". For local
	// runs and tests: in a Lambda function an environment variable is readable by
	// anyone who may read the function's configuration.
	KindEnv Kind = "env"
)

// Ref names where a secret value lives. The zero Ref names nothing.
type Ref struct {
	Kind Kind
	Name string // parameter name, secret name or ARN, or variable name
}

// ParseRef parses "<kind>:<name>". The error says what a reference looks like and
// does not repeat the text, in case a value was pasted where its reference belongs.
func ParseRef(s string) (Ref, error) {
	kind, name, ok := strings.Cut(s, ":")
	if !ok || name == "" || strings.TrimSpace(name) != name || strings.ContainsAny(name, " \t\r\n") {
		return Ref{}, fmt.Errorf(`not a secret reference: want "ssm:<parameter name>", "secretsmanager:<secret name or ARN>" or "env:<NAME>"`)
	}
	switch Kind(kind) {
	case KindSSM, KindSecretsManager:
	case KindEnv:
		for _, c := range name {
			if c != '_' && (c < 'A' || c > 'Z') && (c < 'a' || c > 'z') && (c < '0' || c > '9') {
				return Ref{}, fmt.Errorf("env: reference: the variable name may hold only letters, digits and '_'")
			}
		}
	default:
		return Ref{}, fmt.Errorf(`secret reference of unknown kind: want "ssm:", "secretsmanager:" or "env:" before the name`)
	}
	return Ref{Kind: Kind(kind), Name: name}, nil
}

// String returns the reference as ParseRef reads it.
func (r Ref) String() string {
	if r.IsZero() {
		return ""
	}
	return string(r.Kind) + ":" + r.Name
}

// IsZero reports whether r names nothing.
func (r Ref) IsZero() bool { return r.Kind == "" }

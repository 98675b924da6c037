package secrets

import (
	"strings"
	"testing"
)

func TestParseRef(t *testing.T) {
	t.Parallel()
	good := []struct {
		in   string
		want Ref
	}{
		{"ssm:/tenaz/prod/deliveries/orders-signing", Ref{KindSSM, "/tenaz/prod/deliveries/orders-signing"}},
		{"secretsmanager:tenaz/prod/deliveries/token", Ref{KindSecretsManager, "tenaz/prod/deliveries/token"}},
		{"secretsmanager:arn:aws:secretsmanager:eu-west-1:123456789012:secret:tenaz/prod/deliveries/token-AbCdEf",
			Ref{KindSecretsManager, "arn:aws:secretsmanager:eu-west-1:123456789012:secret:tenaz/prod/deliveries/token-AbCdEf"}},
		{"env:ORDERS_SIGNING_SECRET", Ref{KindEnv, "ORDERS_SIGNING_SECRET"}},
	}
	for _, tc := range good {
		got, err := ParseRef(tc.in)
		if err != nil || got != tc.want || got.String() != tc.in {
			t.Errorf("ParseRef(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
	for _, in := range []string{"", "whsec_c2VjcmV0", "ssm:", "vault:x", "ssm: /a", "ssm:/a b", "env:A-B", "env:a.b", "s3:bucket/key"} {
		_, err := ParseRef(in)
		if err == nil {
			t.Errorf("ParseRef(%q): no error", in)
			continue
		}
		if len(in) > 8 && strings.Contains(err.Error(), in) {
			t.Errorf("ParseRef(%q): error %q repeats the text", in, err)
		}
	}
	if !(Ref{}).IsZero() || (Ref{}).String() != "" {
		t.Error("zero Ref")
	}
}

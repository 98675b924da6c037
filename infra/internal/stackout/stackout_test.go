package stackout

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	raw := `[{"OutputKey": "WebhookUrl", "OutputValue": "https://x"}, {"OutputKey": "BreakerTableName", "OutputValue": "tenaz-BreakerTable-9ZY"}]`
	if got, err := Parse([]byte(raw), "BreakerTableName"); err != nil || got != "tenaz-BreakerTable-9ZY" {
		t.Fatalf("Parse = %q, %v", got, err)
	}
	for _, bad := range []string{`[{"OutputKey": "IdempotencyTableName", "OutputValue": "x"}]`, `[{"OutputKey": "BreakerTableName", "OutputValue": ""}]`, `{}`, `not json`} {
		if _, err := Parse([]byte(bad), "BreakerTableName"); err == nil {
			t.Errorf("Parse(%s) accepted", bad)
		}
	}
}

func TestRead(t *testing.T) {
	path := filepath.Join(t.TempDir(), "outputs.json")
	if err := os.WriteFile(path, []byte(`[{"OutputKey": "K", "OutputValue": "v"}]`), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, err := Read(path, "K"); err != nil || got != "v" {
		t.Fatalf("Read = %q, %v", got, err)
	}
	if _, err := Read(filepath.Join(t.TempDir(), "missing"), "K"); err == nil || !strings.Contains(err.Error(), "stack outputs") {
		t.Fatalf("missing file: %v", err)
	}
}

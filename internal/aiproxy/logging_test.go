package aiproxy

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

// TestSecretsRedactedByConstruction logs every secret-holding type whole,
// through both slog handlers and fmt, and looks for the secret.
func TestSecretsRedactedByConstruction(t *testing.T) {
	const secret = "sk_live_0123456789abcdef"
	hash := HashKeySecret(secret)
	values := []any{
		CredentialValue{"key": secret},
		Credential{Source: SourceTenant, OrgKey: "acme", Name: "heygen", Sealed: []byte(secret), Masked: CredentialValue{"key": secret}.Masked()},
		APIKey{ID: "k", OrgKey: "acme", SecretHash: []byte(secret)},
		APIKey{ID: "k", SecretHash: hash},
	}
	var buf bytes.Buffer
	for _, h := range []slog.Handler{slog.NewJSONHandler(&buf, nil), slog.NewTextHandler(&buf, nil)} {
		log := slog.New(RequestIDHandler(h))
		for _, v := range values {
			log.InfoContext(WithRequestID(context.Background(), "req-1"), "value", "v", v)
		}
	}
	fmt.Fprint(&buf, values[0])
	if strings.Contains(buf.String(), secret) || strings.Contains(buf.String(), fmt.Sprint(hash)) {
		t.Fatalf("a secret reached the log:\n%s", buf.String())
	}
	if !strings.Contains(buf.String(), "****cdef") || strings.Count(buf.String(), "req-1") != 8 {
		t.Fatalf("log lacks the masked preview or the request ids:\n%s", buf.String())
	}
}

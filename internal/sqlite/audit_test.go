package sqlite

import (
	"testing"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// TestAuditAppendOnly checks that the schema itself refuses to change or
// remove an audit event, whatever code runs against it.
func TestAuditAppendOnly(t *testing.T) {
	db, _ := openTemp(t)
	ctx := t.Context()
	if err := db.AppendAudit(ctx, aiproxy.AuditEvent{At: time.Now(), Actor: "cli", Action: aiproxy.AuditOrgCreated, Target: "acme"}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.write.ExecContext(ctx, `UPDATE audit_events SET actor = 'someone else'`); err == nil {
		t.Fatal("an audit event was updated")
	}
	if _, err := db.write.ExecContext(ctx, `DELETE FROM audit_events`); err == nil {
		t.Fatal("an audit event was deleted")
	}
}

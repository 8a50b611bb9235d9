package sqlite

import (
	"context"
	"fmt"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// ResealCredential replaces a credential's sealed value with one sealed
// under another master key, only while the row still holds old: a value
// set meanwhile is left alone. It reports whether the row changed.
func (db *DB) ResealCredential(ctx context.Context, c aiproxy.Credential, old []byte) (bool, error) {
	res, err := db.write.ExecContext(ctx, `
		UPDATE credentials SET sealed = ?
		WHERE source = ? AND org_key IS ? AND name = ? AND sealed = ?`,
		nonNil(c.Sealed), string(c.Source), orgKey(c.OrgKey), c.Name, nonNil(old))
	if err != nil {
		return false, fmt.Errorf("reseal credential %q: %w", c.Name, err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// ResealWebhookSecret does for a webhook endpoint's signing secret what
// ResealCredential does for a credential.
func (db *DB) ResealWebhookSecret(ctx context.Context, e aiproxy.WebhookEndpoint, old []byte) (bool, error) {
	res, err := db.write.ExecContext(ctx, `
		UPDATE webhook_endpoints SET sealed = ? WHERE org_key = ? AND id = ? AND sealed = ?`,
		nonNil(e.Sealed), e.OrgKey, e.ID, nonNil(old))
	if err != nil {
		return false, fmt.Errorf("reseal webhook secret %q: %w", e.ID, err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

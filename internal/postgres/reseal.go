package postgres

import (
	"context"
	"fmt"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// ResealCredential replaces a credential's sealed value with one sealed
// under another master key, only while the row still holds old: a value
// set meanwhile is left alone. It reports whether the row changed.
func (db *DB) ResealCredential(ctx context.Context, c aiproxy.Credential, old []byte) (bool, error) {
	tag, err := db.pool.Exec(ctx, `
		UPDATE credentials SET sealed = $1
		WHERE source = $2 AND coalesce(org_key, '') = $3 AND name = $4 AND sealed = $5`,
		nonNil(c.Sealed), string(c.Source), c.OrgKey, c.Name, nonNil(old))
	if err != nil {
		return false, fmt.Errorf("reseal credential %q: %w", c.Name, err)
	}
	return tag.RowsAffected() == 1, nil
}

// ResealWebhookSecret does for a webhook endpoint's signing secret what
// ResealCredential does for a credential.
func (db *DB) ResealWebhookSecret(ctx context.Context, e aiproxy.WebhookEndpoint, old []byte) (bool, error) {
	tag, err := db.pool.Exec(ctx, `
		UPDATE webhook_endpoints SET sealed = $1 WHERE org_key = $2 AND id = $3 AND sealed = $4`,
		nonNil(e.Sealed), e.OrgKey, e.ID, nonNil(old))
	if err != nil {
		return false, fmt.Errorf("reseal webhook secret %q: %w", e.ID, err)
	}
	return tag.RowsAffected() == 1, nil
}

package admin

import (
	"context"
	"fmt"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// RotationStores is the storage a master-key rotation reads and rewrites.
type RotationStores interface {
	Orgs(ctx context.Context) ([]aiproxy.Org, error)
	Credentials(ctx context.Context, src aiproxy.Source, orgKey string) ([]aiproxy.Credential, error)
	WebhookEndpoints(ctx context.Context, org string) ([]aiproxy.WebhookEndpoint, error)
	aiproxy.ResealStore
	// Auditor records each re-sealed credential.
	Auditor
}

// Resealer seals a blob again under the primary master key; a vault that
// holds the new key as primary and the retired ones as older keys is one.
type Resealer interface {
	// KeyID names the primary key.
	KeyID() string
	// Reseal returns the blob sealed with the primary key, or fresh false
	// when the primary key sealed it already.
	Reseal(sealed, aad []byte) (resealed []byte, fresh bool, err error)
}

// Rotation is what a master-key rotation did.
type Rotation struct {
	// KeyID names the master key everything is now sealed with.
	KeyID string
	// Credentials and WebhookSecrets count the blobs re-sealed; Current
	// those sealed with the primary key already; Skipped those that
	// changed while the rotation ran and were left alone.
	Credentials, WebhookSecrets, Current, Skipped int
}

// RotateMasterKey re-seals every credential (the platform's and each
// org's) and every webhook signing secret that the primary key did not
// seal, and records each re-sealed credential in the audit log. It can run
// while servers use the same keys: a row written meanwhile is skipped, not
// overwritten. now may be nil for time.Now.
func RotateMasterKey(ctx context.Context, store RotationStores, v Resealer, now func() time.Time) (Rotation, error) {
	if now == nil {
		now = time.Now
	}
	r := rotator{store: store, v: v, now: now, done: Rotation{KeyID: v.KeyID()}}
	orgs, err := store.Orgs(ctx)
	if err != nil {
		return r.done, err
	}
	if err := r.credentials(ctx, ""); err != nil {
		return r.done, err
	}
	for _, o := range orgs {
		if err := r.credentials(ctx, o.Key); err != nil {
			return r.done, err
		}
		if err := r.webhookSecrets(ctx, o.Key); err != nil {
			return r.done, err
		}
	}
	return r.done, nil
}

// rotator is one rotation under way.
type rotator struct {
	store RotationStores
	v     Resealer
	now   func() time.Time
	done  Rotation
}

// credentials re-seals one owner's credentials: the platform's for org "".
func (r *rotator) credentials(ctx context.Context, org string) error {
	src := aiproxy.SourceTenant
	if org == "" {
		src = aiproxy.SourcePlatform
	}
	list, err := r.store.Credentials(ctx, src, org)
	if err != nil {
		return err
	}
	for _, c := range list {
		old := c.Sealed
		sealed, fresh, err := r.reseal(old, c.AAD())
		if err != nil {
			return fmt.Errorf("%s credential %q of org %q: %w", src, c.Name, org, err)
		}
		if !fresh {
			continue
		}
		c.Sealed = sealed
		changed, err := r.store.ResealCredential(ctx, c, old)
		if err != nil {
			return err
		}
		if !changed {
			r.done.Skipped++
			continue
		}
		r.done.Credentials++
		detail := "source=" + string(src) + " key_id=" + r.done.KeyID
		if err := record(ctx, r.store, r.now(), aiproxy.AuditCredentialResealed, org, c.Name, detail); err != nil {
			return err
		}
	}
	return nil
}

// webhookSecrets re-seals one org's webhook signing secrets.
func (r *rotator) webhookSecrets(ctx context.Context, org string) error {
	list, err := r.store.WebhookEndpoints(ctx, org)
	if err != nil {
		return err
	}
	for _, ep := range list {
		old := ep.Sealed
		sealed, fresh, err := r.reseal(old, ep.AAD())
		if err != nil {
			return fmt.Errorf("webhook %q of org %q: %w", ep.ID, org, err)
		}
		if !fresh {
			continue
		}
		ep.Sealed = sealed
		changed, err := r.store.ResealWebhookSecret(ctx, ep, old)
		if err != nil {
			return err
		}
		if changed {
			r.done.WebhookSecrets++
		} else {
			r.done.Skipped++
		}
	}
	return nil
}

// reseal re-seals one blob, counting it as current when the primary key
// sealed it already.
func (r *rotator) reseal(blob, aad []byte) ([]byte, bool, error) {
	sealed, fresh, err := r.v.Reseal(blob, aad)
	if err != nil {
		return nil, false, fmt.Errorf("open (is its master key in AIPROXY_MASTER_KEY_OLD?): %w", err)
	}
	if !fresh {
		r.done.Current++
	}
	return sealed, fresh, nil
}

package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
	"github.com/aiproxy/aiproxy/internal/vault"
)

// oldKeys reads the retired master keys: AIPROXY_MASTER_KEY_OLD (comma-
// separated) and the lines of --master-key-old-file.
func (f *keyFlags) oldKeys(e env) ([][]byte, error) {
	var texts []string
	texts = append(texts, strings.Split(e("AIPROXY_MASTER_KEY_OLD"), ",")...)
	if f.oldKeyFile != "" {
		b, err := os.ReadFile(f.oldKeyFile)
		if err != nil {
			return nil, fmt.Errorf("read old master key file: %w", err)
		}
		texts = append(texts, strings.Split(string(b), "\n")...)
	}
	var keys [][]byte
	for _, t := range texts {
		if strings.TrimSpace(t) == "" {
			continue
		}
		k, err := vault.ParseMasterKey(t)
		if err != nil {
			return nil, fmt.Errorf("old master key %d: %w", len(keys)+1, err)
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// resealer is what rotation needs from an engine beyond store.
type resealer interface {
	ResealCredential(ctx context.Context, c aiproxy.Credential, old []byte) (bool, error)
}

// webhookResealer is what rotation needs to re-seal webhook secrets.
type webhookResealer interface {
	WebhookEndpoints(ctx context.Context, org string) ([]aiproxy.WebhookEndpoint, error)
	ResealWebhookSecret(ctx context.Context, e aiproxy.WebhookEndpoint, old []byte) (bool, error)
}

// runRotateMasterKey re-seals every credential and webhook secret that is
// not sealed with the primary master key. Run it with the new key as
// AIPROXY_MASTER_KEY and the old one as AIPROXY_MASTER_KEY_OLD, after the
// servers run with the same pair; once it reports nothing left under an
// old key, the old key can be dropped.
func runRotateMasterKey(ctx context.Context, args []string, e env, s stdio) error {
	var f adminFlags
	fs := newFlagSet("rotate-master-key", "rotate-master-key (AIPROXY_MASTER_KEY=new AIPROXY_MASTER_KEY_OLD=old)", s)
	f.register(fs, e, false)
	if _, err := parseMixed(fs, args); err != nil {
		return err
	}
	v, err := f.key.vault(e)
	if err != nil {
		return err
	}
	db, err := f.store.open(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	r := rotation{db: db, v: v}
	if err := r.run(ctx); err != nil {
		return err
	}
	fmt.Fprintf(s.err, "master key %s: re-sealed %d credentials and %d webhook secrets; %d were already sealed with it; %d changed meanwhile and were left alone\n",
		v.KeyID(), r.resealed, r.webhooks, r.current, r.skipped)
	return nil
}

// rotation re-seals blobs under the vault's primary key and counts what
// it did.
type rotation struct {
	db                                   store
	v                                    *vault.Vault
	resealed, webhooks, current, skipped int
}

func (r *rotation) run(ctx context.Context) error {
	rs, ok := r.db.(resealer)
	if !ok {
		return errors.New("this database engine cannot re-seal credentials")
	}
	orgs, err := r.db.Orgs(ctx)
	if err != nil {
		return err
	}
	owners := []string{""}
	for _, o := range orgs {
		owners = append(owners, o.Key)
	}
	for _, org := range owners {
		if err := r.credentials(ctx, rs, org); err != nil {
			return err
		}
		if wr, ok := r.db.(webhookResealer); ok && org != "" {
			if err := r.webhookSecrets(ctx, wr, org); err != nil {
				return err
			}
		}
	}
	return nil
}

func (r *rotation) credentials(ctx context.Context, rs resealer, org string) error {
	src := aiproxy.SourceTenant
	if org == "" {
		src = aiproxy.SourcePlatform
	}
	list, err := r.db.Credentials(ctx, src, org)
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
		done, err := rs.ResealCredential(ctx, c, old)
		if err != nil {
			return err
		}
		if !done {
			r.skipped++
			continue
		}
		r.resealed++
		ev := aiproxy.AuditEvent{At: time.Now().UTC(), Actor: aiproxy.ActorCLI, Action: aiproxy.AuditCredentialResealed,
			OrgKey: org, Target: c.Name, Detail: "source=" + string(src) + " key_id=" + r.v.KeyID()}
		if err := r.db.AppendAudit(ctx, ev); err != nil {
			return err
		}
	}
	return nil
}

func (r *rotation) webhookSecrets(ctx context.Context, wr webhookResealer, org string) error {
	list, err := wr.WebhookEndpoints(ctx, org)
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
		done, err := wr.ResealWebhookSecret(ctx, ep, old)
		if err != nil {
			return err
		}
		if done {
			r.webhooks++
		} else {
			r.skipped++
		}
	}
	return nil
}

// reseal opens a blob with whichever key sealed it and seals it with the
// primary; fresh is false when the primary sealed it already.
func (r *rotation) reseal(blob, aad []byte) (sealed []byte, fresh bool, err error) {
	id, err := vault.SealedKeyID(blob)
	if err != nil {
		return nil, false, err
	}
	if id == r.v.KeyID() {
		r.current++
		return nil, false, nil
	}
	plain, err := r.v.Open(blob, aad)
	if err != nil {
		return nil, false, fmt.Errorf("open (is its master key in AIPROXY_MASTER_KEY_OLD?): %w", err)
	}
	sealed, err = r.v.Seal(plain, aad)
	clear(plain)
	return sealed, err == nil, err
}

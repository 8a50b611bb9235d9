package main

import (
	"context"
	"fmt"

	"github.com/aiproxy/aiproxy/internal/admin"
)

// runRotateMasterKey re-seals every credential and webhook secret that is
// not sealed with the primary master key (admin.RotateMasterKey). Run it
// with the new key as AIPROXY_MASTER_KEY and the old one as
// AIPROXY_MASTER_KEY_OLD, after the servers run with the same pair; once it
// reports nothing left under an old key, the old key can be dropped.
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
	r, err := admin.RotateMasterKey(ctx, db, v, nil)
	if err != nil {
		return err
	}
	fmt.Fprintf(s.err, "master key %s: re-sealed %d credentials and %d webhook secrets; %d were already sealed with it; %d changed meanwhile and were left alone\n",
		r.KeyID, r.Credentials, r.WebhookSecrets, r.Current, r.Skipped)
	return nil
}

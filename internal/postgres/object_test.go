package postgres

import (
	"testing"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// TestObjectBackfillFromJobs migrates a schema that already holds jobs:
// their provider ids become objects of the orgs that started them.
func TestObjectBackfillFromJobs(t *testing.T) {
	db, _ := openTemp(t)
	ctx := t.Context()
	p, sqlDB, err := db.provider(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer sqlDB.Close()
	if _, err := p.DownTo(ctx, 6); err != nil {
		t.Fatalf("migrate down to 6: %v", err)
	}
	if err := db.CreateOrg(ctx, aiproxy.Org{Key: "acme", Name: "Acme", CreatedAt: time.UnixMilli(1000)}); err != nil {
		t.Fatal(err)
	}
	_, err = db.pool.Exec(ctx, `INSERT INTO jobs (id, org_key, service, action, status_action, provider_job_id,
		source, credential_name, state, created_at) VALUES ('job_1', 'acme', 'heygen', 'generate-video', 'video-status',
		'VidABC', 'platform', 'heygen', 'pending', to_timestamp(5))`)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Up(ctx); err != nil {
		t.Fatalf("migrate up: %v", err)
	}
	got, err := db.Objects(ctx, "heygen", []string{aiproxy.ObjectKey("VidABC")})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].OrgKey != "acme" || got[0].Kind != "job" || got[0].Source != aiproxy.SourcePlatform ||
		!got[0].CreatedAt.Equal(time.UnixMilli(5000)) {
		t.Fatalf("objects after the backfill = %+v, want job vidabc of acme on the platform credential", got)
	}
}

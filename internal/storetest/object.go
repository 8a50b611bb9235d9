package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aiproxy/aiproxy/internal/aiproxy"
)

// ObjectStores is what an engine provides for provider-object ownership.
type ObjectStores interface {
	Stores
	aiproxy.ObjectStore
}

func objectStores(t *testing.T, open func(t *testing.T) Stores) ObjectStores {
	t.Helper()
	s, ok := open(t).(ObjectStores)
	if !ok {
		t.Fatal("the store does not implement aiproxy.ObjectStore")
	}
	return s
}

// runObjects holds every engine to the record that keeps orgs apart on a
// shared provider account: what is recorded reads back, the first owner of
// an object stays however many replicas race, and lookups see every kind of
// one service's ids and nothing of another service's.
func runObjects(t *testing.T, open func(t *testing.T) Stores) {
	t.Run("RecordThenLookup", func(t *testing.T) { testObjectRoundTrip(t, objectStores(t, open)) })
	t.Run("FirstRecordStays", func(t *testing.T) { testObjectFirstOwner(t, objectStores(t, open)) })
	t.Run("KindsAndServices", func(t *testing.T) { testObjectKinds(t, objectStores(t, open)) })
	t.Run("ManyIDs", func(t *testing.T) { testObjectManyIDs(t, objectStores(t, open)) })
	t.Run("RacingOwners", func(t *testing.T) { testObjectRace(t, objectStores(t, open)) })
	t.Run("UnknownOrg", func(t *testing.T) { testObjectUnknownOrg(t, objectStores(t, open)) })
}

func object(service, kind, id, org string, src aiproxy.Source, minute int) aiproxy.ProviderObject {
	return aiproxy.ProviderObject{Service: service, Kind: kind, ProviderID: id, OrgKey: org, Source: src,
		CreatedAt: t0.Add(time.Duration(minute) * time.Minute)}
}

func mustRecord(t *testing.T, s ObjectStores, o aiproxy.ProviderObject) {
	t.Helper()
	if err := s.RecordObject(t.Context(), o); err != nil {
		t.Fatalf("RecordObject(%s %s %q): %v", o.Service, o.Kind, o.ProviderID, err)
	}
}

func mustObjects(t *testing.T, s ObjectStores, service string, ids ...string) []aiproxy.ProviderObject {
	t.Helper()
	got, err := s.Objects(t.Context(), service, ids)
	if err != nil {
		t.Fatalf("Objects(%s, %q): %v", service, ids, err)
	}
	return got
}

func owners(objs []aiproxy.ProviderObject) []string {
	var out []string
	for _, o := range objs {
		out = append(out, o.Kind+"/"+o.ProviderID+"="+o.OrgKey)
	}
	return out
}

func testObjectRoundTrip(t *testing.T, s ObjectStores) {
	ctx := t.Context()
	mustCreateOrg(ctx, t, s, "acme")
	mustCreateOrg(ctx, t, s, "beta")
	video := object("heygen", "video", "v1", "acme", aiproxy.SourcePlatform, 1)
	video.User = "alice@example.com"
	mustRecord(t, s, video)
	mustRecord(t, s, object("heygen", "asset", "a1", "beta", aiproxy.SourceTenant, 2))

	got := mustObjects(t, s, "heygen", "v1", "a1", "never-recorded")
	checkStrings(t, "records", owners(got), []string{"asset/a1=beta", "video/v1=acme"})
	a := got[0]
	if a.Service != "heygen" || a.Source != aiproxy.SourceTenant || !sameTime(a.CreatedAt, at(2)) || a.User != "" {
		t.Fatalf("asset record = %+v, want heygen, tenant, created %v, no user", a, at(2))
	}
	if v := got[1]; v.Source != aiproxy.SourcePlatform || !sameTime(v.CreatedAt, at(1)) || v.User != "alice@example.com" {
		t.Fatalf("video record = %+v, want platform, created %v by alice@example.com", v, at(1))
	}
	if got := mustObjects(t, s, "heygen"); len(got) != 0 {
		t.Fatalf("Objects with no ids = %v, want none", owners(got))
	}
	if got := mustObjects(t, s, "heygen", "nothing", "at-all"); len(got) != 0 {
		t.Fatalf("Objects of unrecorded ids = %v, want none", owners(got))
	}
}

func testObjectFirstOwner(t *testing.T, s ObjectStores) {
	ctx := t.Context()
	mustCreateOrg(ctx, t, s, "acme")
	mustCreateOrg(ctx, t, s, "beta")
	byUser := func(o aiproxy.ProviderObject, user string) aiproxy.ProviderObject { o.User = user; return o }
	mustRecord(t, s, byUser(object("elevenlabs", "voice", "vx", "acme", aiproxy.SourcePlatform, 1), "u1"))
	// Another org claiming the same object, and the owner recording it
	// again (for another of its users), change nothing.
	mustRecord(t, s, byUser(object("elevenlabs", "voice", "vx", "beta", aiproxy.SourcePlatform, 2), "u2"))
	checkStrings(t, "records of vx after another org's record", owners(mustObjects(t, s, "elevenlabs", "vx")),
		[]string{"voice/vx=acme"})
	mustRecord(t, s, byUser(object("elevenlabs", "voice", "vx", "acme", aiproxy.SourceTenant, 3), "u3"))
	got := mustObjects(t, s, "elevenlabs", "vx")
	checkStrings(t, "records of vx", owners(got), []string{"voice/vx=acme"})
	if got[0].Source != aiproxy.SourcePlatform || !sameTime(got[0].CreatedAt, at(1)) || got[0].User != "u1" {
		t.Fatalf("record of vx = %+v, want the first (platform, %v, user u1)", got[0], at(1))
	}
}

func testObjectKinds(t *testing.T, s ObjectStores) {
	ctx := t.Context()
	mustCreateOrg(ctx, t, s, "acme")
	mustCreateOrg(ctx, t, s, "beta")
	// One id under two kinds (a HeyGen translation is also a video) and
	// the same id at another provider.
	mustRecord(t, s, object("heygen", "video", "same", "acme", aiproxy.SourcePlatform, 1))
	mustRecord(t, s, object("heygen", "translation", "same", "beta", aiproxy.SourcePlatform, 2))
	mustRecord(t, s, object("elevenlabs", "voice", "same", "beta", aiproxy.SourcePlatform, 3))
	checkStrings(t, "heygen records of same", owners(mustObjects(t, s, "heygen", "same")),
		[]string{"translation/same=beta", "video/same=acme"})
	checkStrings(t, "elevenlabs records of same", owners(mustObjects(t, s, "elevenlabs", "same")),
		[]string{"voice/same=beta"})
	if got := mustObjects(t, s, "sandbox", "same"); len(got) != 0 {
		t.Fatalf("records of another service = %v, want none", owners(got))
	}
	// Ids are compared byte for byte: folding is the caller's (ObjectKey).
	if got := mustObjects(t, s, "heygen", "SAME"); len(got) != 0 {
		t.Fatalf("records of SAME = %v, want none", owners(got))
	}
}

func testObjectManyIDs(t *testing.T, s ObjectStores) {
	ctx := t.Context()
	mustCreateOrg(ctx, t, s, "acme")
	var ids []string
	for i := range 300 {
		id := fmt.Sprintf("item-%03d", i)
		ids = append(ids, id)
		if i%3 == 0 {
			mustRecord(t, s, object("elevenlabs", "history_item", id, "acme", aiproxy.SourcePlatform, 1))
		}
	}
	got := mustObjects(t, s, "elevenlabs", ids...)
	if len(got) != 100 || got[0].ProviderID != "item-000" || got[99].ProviderID != "item-297" {
		t.Fatalf("Objects of 300 ids = %d records (%v…), want the 100 recorded, in id order", len(got), owners(got[:min(3, len(got))]))
	}
}

func testObjectRace(t *testing.T, s ObjectStores) {
	ctx := t.Context()
	orgs := []string{"acme", "beta", "gamma", "delta"}
	for _, o := range orgs {
		mustCreateOrg(ctx, t, s, o)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 4*len(orgs))
	for i := range 4 * len(orgs) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- s.RecordObject(ctx, object("heygen", "video", "raced", orgs[i%len(orgs)], aiproxy.SourcePlatform, i))
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("racing RecordObject: %v", err)
		}
	}
	if got := mustObjects(t, s, "heygen", "raced"); len(got) != 1 {
		t.Fatalf("records after a race = %v, want exactly one owner", owners(got))
	}
}

func testObjectUnknownOrg(t *testing.T, s ObjectStores) {
	if err := s.RecordObject(t.Context(), object("heygen", "video", "v", "no-such-org", aiproxy.SourcePlatform, 1)); err == nil {
		t.Fatal("RecordObject for an org that does not exist succeeded, want an error")
	}
	if got := mustObjects(t, s, "heygen", "v"); len(got) != 0 {
		t.Fatalf("records = %v, want none", owners(got))
	}
}

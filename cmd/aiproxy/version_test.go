package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
)

func TestResolveBuild(t *testing.T) {
	checkout := &debug.BuildInfo{GoVersion: "go1.26.8",
		Main: debug.Module{Path: "github.com/aiproxy/aiproxy", Version: "v0.0.0-20261101120000-0123456789ab+dirty"},
		Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "0123456789abcdef0123456789abcdef01234567"},
			{Key: "vcs.time", Value: "2026-11-01T12:00:00Z"}, {Key: "vcs.modified", Value: "true"}}}
	tests := []struct {
		name                  string
		version, commit, date string
		info                  *debug.BuildInfo
		want                  buildInfo
		wantLine, wantLineNot string
	}{
		{name: "stamped", version: "v1.2.3", commit: "abcdef0123456789", date: "2026-11-02T00:00:00Z", info: checkout,
			want:     buildInfo{Version: "v1.2.3", Commit: "abcdef0123456789", Date: "2026-11-02T00:00:00Z", Go: "go1.26.8"},
			wantLine: "aiproxy v1.2.3 (commit abcdef012345, built 2026-11-02T00:00:00Z, go1.26.8, ", wantLineNot: "dirty"},
		{name: "checkout", version: "dev", info: checkout,
			want: buildInfo{Version: "v0.0.0-20261101120000-0123456789ab+dirty", Commit: "0123456789abcdef0123456789abcdef01234567",
				Modified: true, Date: "2026-11-01T12:00:00Z", Go: "go1.26.8"},
			wantLine: "(commit 0123456789ab-dirty, built 2026-11-01T12:00:00Z,"},
		{name: "go install", version: "dev", info: &debug.BuildInfo{GoVersion: "go1.26.9",
			Main: debug.Module{Path: "github.com/aiproxy/aiproxy", Version: "v1.4.0"}},
			want: buildInfo{Version: "v1.4.0", Go: "go1.26.9"}, wantLine: "aiproxy v1.4.0 (go1.26.9, "},
		{name: "go run", version: "dev", info: &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}},
			want: buildInfo{Version: "dev", Go: "go1.26.8"}, wantLine: "aiproxy dev (go1.26.8, "},
		{name: "no build info", version: "", info: nil, want: buildInfo{Version: "dev"}, wantLine: "aiproxy dev ("},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := resolveBuild(tt.version, tt.commit, tt.date, tt.info)
			if got.Platform == "" || got.Go == "" {
				t.Errorf("platform %q, go %q: both must be set", got.Platform, got.Go)
			}
			if tt.want.Go == "" {
				tt.want.Go = got.Go
			}
			tt.want.Platform = got.Platform
			if got != tt.want {
				t.Errorf("resolveBuild = %+v\nwant           %+v", got, tt.want)
			}
			line := got.String()
			if !strings.Contains(line, tt.wantLine) || (tt.wantLineNot != "" && strings.Contains(line, tt.wantLineNot)) {
				t.Errorf("String() = %q, want it to contain %q and not %q", line, tt.wantLine, tt.wantLineNot)
			}
		})
	}
}

func TestVersionCommand(t *testing.T) {
	runOut := func(args ...string) string {
		t.Helper()
		var out, errOut bytes.Buffer
		if err := run(context.Background(), args, func(string) string { return "" }, strings.NewReader(""), &out, &errOut); err != nil {
			t.Fatalf("aiproxy %v: %v\n%s", args, err, errOut.String())
		}
		return out.String()
	}
	if got := runOut("--version"); got != build.String()+"\n" {
		t.Errorf("--version = %q, want %q", got, build.String())
	}
	if got := runOut("version"); !strings.HasPrefix(got, "aiproxy "+version+"\ncommit: ") || !strings.Contains(got, "\nplatform: ") {
		t.Errorf("version =\n%s", got)
	}
	var b buildInfo
	if err := json.Unmarshal([]byte(runOut("version", "--json")), &b); err != nil || b != build {
		t.Errorf("version --json = %+v (%v), want %+v", b, err, build)
	}
	if build.Version != version {
		t.Errorf("build.Version %q != version %q: the log and User-Agent would disagree with `aiproxy version`", build.Version, version)
	}
}

// TestVersionReachesHealthzAndProvider checks that a running server shows
// its version on /healthz and in the User-Agent of its provider calls.
func TestVersionReachesHealthzAndProvider(t *testing.T) {
	var mu sync.Mutex
	var agents []string
	provider := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		agents = append(agents, r.UserAgent())
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"error":null,"data":{"avatars":[],"talking_photos":[]}}`))
	}))
	defer provider.Close()
	d := startDemo(t, "--upstream", "heygen="+provider.URL)

	var health struct{ Status, Version string }
	d.getJSON("/healthz", "", 200, &health)
	if health.Status != "ok" || health.Version != version {
		t.Errorf("/healthz = %+v, want status ok and version %q", health, version)
	}
	if status, _, body := d.invoke(d.org, d.key, "heygen", "list-avatars", map[string]any{}); status != 200 {
		t.Fatalf("list-avatars = %d: %s", status, body)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(agents) == 0 || agents[len(agents)-1] != "aiproxy/"+version {
		t.Errorf("provider saw User-Agent %q, want %q", agents, "aiproxy/"+version)
	}
	if !strings.Contains(d.stderr.String(), `"version":"`+version+`"`) {
		t.Errorf("the startup log does not name version %q:\n%s", version, d.stderr.String())
	}
}

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
)

// commit and date are set at build time, as version is (serve.go):
//
//	go build -ldflags "-X main.version=v1.2.3 -X main.commit=$(git rev-parse HEAD) -X main.date=$(date -u +%FT%TZ)"
//
// Left empty, they come from the build information the go command records
// (the VCS revision and time of a `go build` in a checkout).
var commit, date string

// build describes this binary; it is worked out once, before main runs.
var build = resolveBuild(version, commit, date, readBuildInfo())

// init gives the unstamped version its resolved value, so that the startup
// log, the provider User-Agent and traces, which read version, say the
// same as `aiproxy version`.
func init() { version = build.Version }

// buildInfo is what a binary knows of its own build.
type buildInfo struct {
	Version string `json:"version"`
	Commit  string `json:"commit,omitempty"`
	// Modified says the commit's tree had local changes when it was built.
	Modified bool   `json:"modified,omitempty"`
	Date     string `json:"date,omitempty"`
	Go       string `json:"go"`
	Platform string `json:"platform"`
}

func readBuildInfo() *debug.BuildInfo {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return nil
	}
	return info
}

// resolveBuild prefers what the linker stamped and falls back on the go
// command's build information: the module version of `go install
// …@v1.2.3`, or the pseudo-version, revision and time of a build in a
// checkout. A build with neither is "dev".
func resolveBuild(stampedVersion, stampedCommit, stampedDate string, info *debug.BuildInfo) buildInfo {
	b := buildInfo{Version: stampedVersion, Commit: stampedCommit, Date: stampedDate,
		Go: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if info == nil {
		if b.Version == "" {
			b.Version = "dev"
		}
		return b
	}
	if info.GoVersion != "" {
		b.Go = info.GoVersion
	}
	if b.Version == "" || b.Version == "dev" {
		b.Version = "dev"
		if v := info.Main.Version; v != "" && v != "(devel)" {
			b.Version = v
		}
	}
	vcs := map[string]string{}
	for _, s := range info.Settings {
		vcs[s.Key] = s.Value
	}
	if b.Commit == "" {
		b.Commit = vcs["vcs.revision"]
		b.Modified = vcs["vcs.modified"] == "true"
	}
	if b.Date == "" {
		b.Date = vcs["vcs.time"]
	}
	return b
}

// String is the one line of `aiproxy --version`.
func (b buildInfo) String() string {
	var extra []string
	if b.Commit != "" {
		c := b.Commit
		if len(c) > 12 {
			c = c[:12]
		}
		if b.Modified {
			c += "-dirty"
		}
		extra = append(extra, "commit "+c)
	}
	if b.Date != "" {
		extra = append(extra, "built "+b.Date)
	}
	extra = append(extra, b.Go, b.Platform)
	return "aiproxy " + b.Version + " (" + strings.Join(extra, ", ") + ")"
}

// runVersion prints the version, commit, build date, Go version and
// platform, one per line, or as JSON with --json.
func runVersion(_ context.Context, args []string, _ env, s stdio) error {
	fs := newFlagSet("version", "version [--json]", s)
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(s.err, "aiproxy version: unexpected argument %q\n", fs.Arg(0))
		return errUsage
	}
	if *asJSON {
		enc := json.NewEncoder(s.out)
		return enc.Encode(build)
	}
	commit := build.Commit
	if commit == "" {
		commit = "unknown"
	} else if build.Modified {
		commit += " (modified)"
	}
	date := build.Date
	if date == "" {
		date = "unknown"
	}
	_, err := fmt.Fprintf(s.out, "aiproxy %s\ncommit:   %s\nbuilt:    %s\ngo:       %s\nplatform: %s\n",
		build.Version, commit, date, build.Go, build.Platform)
	return err
}

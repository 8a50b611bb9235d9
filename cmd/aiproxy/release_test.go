package main

import (
	"context"
	"debug/elf"
	"debug/macho"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// goreleaserBuild is the part of a .goreleaser.yaml build that decides
// what `go build` runs.
type goreleaserBuild struct {
	Main    string   `yaml:"main"`
	Binary  string   `yaml:"binary"`
	Env     []string `yaml:"env"`
	Flags   []string `yaml:"flags"`
	Ldflags []string `yaml:"ldflags"`
	Goos    []string `yaml:"goos"`
	Goarch  []string `yaml:"goarch"`
}

func releaseBuild(t *testing.T) goreleaserBuild {
	t.Helper()
	var cfg struct {
		Builds []goreleaserBuild `yaml:"builds"`
	}
	readYAML(t, "../../.goreleaser.yaml", &cfg)
	if len(cfg.Builds) != 1 {
		t.Fatalf(".goreleaser.yaml has %d builds, want 1", len(cfg.Builds))
	}
	return cfg.Builds[0]
}

// stampedNames returns the main.* variables that -X flags set in text.
func stampedNames(text string) []string {
	var names []string
	for _, m := range regexp.MustCompile(`-X main\.(\w+)=`).FindAllStringSubmatch(text, -1) {
		names = append(names, m[1])
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// TestReleaseConfig checks, without building, that the release builds are
// the four static targets and that the release, the image script and the
// Containerfile stamp the same variables, all of which version.go reads.
func TestReleaseConfig(t *testing.T) {
	b := releaseBuild(t)
	if b.Main != "./cmd/aiproxy" || b.Binary != "aiproxy" {
		t.Errorf("main %q, binary %q", b.Main, b.Binary)
	}
	if !slices.Equal(b.Goos, []string{"linux", "darwin"}) || !slices.Equal(b.Goarch, []string{"amd64", "arm64"}) {
		t.Errorf("targets %v × %v, want linux, darwin × amd64, arm64", b.Goos, b.Goarch)
	}
	if !slices.Contains(b.Env, "CGO_ENABLED=0") || !slices.Contains(b.Flags, "-trimpath") {
		t.Errorf("env %v, flags %v: want CGO_ENABLED=0 and -trimpath", b.Env, b.Flags)
	}
	want := []string{"commit", "date", "version"}
	if got := stampedNames(strings.Join(b.Ldflags, " ")); !slices.Equal(got, want) {
		t.Errorf(".goreleaser.yaml stamps %v, want %v", got, want)
	}
	for _, path := range []string{"../../scripts/image.sh", "../../deploy/container/Containerfile"} {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := stampedNames(string(data)); !slices.Equal(got, want) {
			t.Errorf("%s stamps %v, want %v", path, got, want)
		}
	}
}

// TestReleaseBuilds cross-builds every target of .goreleaser.yaml with
// plain `go build` and the file's own env, flags and ldflags (templates
// filled in), checks each binary's format, architecture and static
// linking, and runs the host's to read back what was stamped. It stands in
// for `goreleaser build`, which takes minutes to install; it is slow, so it
// runs only with AIPROXY_TEST_RELEASE=1 (.ci/run sets it).
func TestReleaseBuilds(t *testing.T) {
	if os.Getenv("AIPROXY_TEST_RELEASE") == "" {
		t.Skip("set AIPROXY_TEST_RELEASE=1 to cross-build the release targets")
	}
	b := releaseBuild(t)
	fields := map[string]string{"Version": "9.8.7-test", "FullCommit": "0123456789abcdef0123456789abcdef01234567",
		"Date": "2026-11-01T12:00:00Z"}
	ldflags := regexp.MustCompile(`{{\s*\.(\w+)\s*}}`).ReplaceAllStringFunc(strings.Join(b.Ldflags, " "), func(m string) string {
		name := strings.Trim(m, "{} .")
		v, ok := fields[name]
		if !ok {
			t.Fatalf("ldflags use template field %s, which this test does not fill", name)
		}
		return v
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	dir := t.TempDir()
	for _, goos := range b.Goos {
		for _, goarch := range b.Goarch {
			out := filepath.Join(dir, b.Binary+"_"+goos+"_"+goarch)
			args := append(append([]string{"build"}, b.Flags...), "-ldflags", ldflags, "-o", out, b.Main)
			cmd := exec.CommandContext(ctx, "go", args...)
			cmd.Dir = "../.."
			cmd.Env = append(append(os.Environ(), b.Env...), "GOOS="+goos, "GOARCH="+goarch)
			start := time.Now()
			if msg, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("%s/%s: go %s: %v\n%s", goos, goarch, strings.Join(args, " "), err, msg)
			}
			t.Logf("%s/%s built in %s", goos, goarch, time.Since(start).Round(time.Second))
			checkBinary(t, out, goos, goarch)
		}
	}
	host := filepath.Join(dir, b.Binary+"_"+goruntimeTarget())
	if _, err := os.Stat(host); err != nil {
		t.Skipf("no release target for this host (%s)", goruntimeTarget())
	}
	msg, err := exec.CommandContext(ctx, host, "version", "--json").Output()
	if err != nil {
		t.Fatalf("%s version --json: %v", host, err)
	}
	var got buildInfo
	if err := json.Unmarshal(msg, &got); err != nil {
		t.Fatalf("version --json = %s: %v", msg, err)
	}
	if got.Version != "v"+fields["Version"] || got.Commit != fields["FullCommit"] || got.Date != fields["Date"] || got.Modified {
		t.Errorf("the release binary says %+v, want version v%s, commit %s, date %s", got, fields["Version"], fields["FullCommit"], fields["Date"])
	}
}

func goruntimeTarget() string { return strings.ReplaceAll(build.Platform, "/", "_") }

// checkBinary opens an executable as its platform's format and checks its
// architecture and, on Linux, that it needs no dynamic loader.
func checkBinary(t *testing.T, path, goos, goarch string) {
	t.Helper()
	switch goos {
	case "linux":
		f, err := elf.Open(path)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		defer f.Close()
		want := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}[goarch]
		if f.Machine != want {
			t.Errorf("%s: machine %v, want %v", path, f.Machine, want)
		}
		for _, p := range f.Progs {
			if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
				t.Errorf("%s is dynamically linked (%v): CGO_ENABLED=0 must give a static binary", path, p.Type)
			}
		}
	case "darwin":
		f, err := macho.Open(path)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		defer f.Close()
		want := map[string]macho.Cpu{"amd64": macho.CpuAmd64, "arm64": macho.CpuArm64}[goarch]
		if f.Cpu != want {
			t.Errorf("%s: cpu %v, want %v", path, f.Cpu, want)
		}
	default:
		t.Errorf("no check for GOOS %s", goos)
	}
}

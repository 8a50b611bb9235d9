package client_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// freshProgram is what a user writes in a module of their own, as
// docs/clients.md shows.
const freshProgram = `package main

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/aiproxy/aiproxy/client"
)

func main() {
	c, err := client.FromEnv(os.Getenv)
	if err != nil {
		log.Fatal(err)
	}
	services, err := c.Services(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("services:", len(services))
}
`

// TestFreshModule builds a program in a new module that takes the client
// the way docs/clients.md says to from a checkout (a require and a replace
// onto it), and runs it against a real server. Its go.mod asks for Go
// 1.26.0 and keeps asking for that after go mod tidy, since aiproxy asks
// for no patch release. It runs go mod tidy and a build, so it runs only
// with AIPROXY_TEST_RELEASE=1 (.ci/run sets it).
func TestFreshModule(t *testing.T) {
	if os.Getenv("AIPROXY_TEST_RELEASE") == "" {
		t.Skip("set AIPROXY_TEST_RELEASE=1 to build a program from a fresh module")
	}
	repo, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	run := func(env []string, name string, args ...string) string {
		t.Helper()
		cmd := exec.CommandContext(ctx, name, args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), env...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(freshProgram), 0o644); err != nil {
		t.Fatal(err)
	}
	run(nil, "go", "mod", "init", "example.com/app")
	run(nil, "go", "mod", "edit", "-go=1.26.0", "-require=github.com/aiproxy/aiproxy@v0.0.0",
		"-replace=github.com/aiproxy/aiproxy="+repo)
	run(nil, "go", "mod", "tidy")
	run(nil, "go", "build", "-o", "app", ".")
	gomod, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(gomod), "\ngo 1.26.0\n") {
		t.Errorf("go mod tidy changed the fresh module's go line:\n%s", gomod)
	}

	s := startServer(t)
	out := run([]string{"AIPROXY_URL=" + s.url, "AIPROXY_ORG=" + s.org, "AIPROXY_API_KEY=" + s.key}, filepath.Join(dir, "app"))
	if !strings.HasPrefix(out, "services: ") || strings.HasPrefix(out, "services: 0") {
		t.Errorf("the program printed %q", out)
	}
}

package check

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
)

func loadCompose(t *testing.T, env ...string) (*types.Project, error) {
	t.Helper()
	opts, err := cli.NewProjectOptions([]string{"../compose/compose.yaml"}, cli.WithEnv(env), cli.WithInterpolation(true))
	if err != nil {
		t.Fatal(err)
	}
	return opts.LoadProject(context.Background())
}

// TestComposeFile loads deploy/compose/compose.yaml with the Compose
// specification's own loader, which checks it against the specification's
// schema, and checks that aiproxy starts after healthy PostgreSQL and
// Redis, reaches them by their service names, publishes the API on
// loopback only, runs the image's serve, and refuses to start without a
// master key.
func TestComposeFile(t *testing.T) {
	p, err := loadCompose(t, "AIPROXY_MASTER_KEY="+strings.Repeat("ab", 32))
	if err != nil {
		t.Fatal(err)
	}
	if names := p.ServiceNames(); !slices.Equal(sorted(names), []string{"aiproxy", "postgres", "redis"}) {
		t.Fatalf("services %v, want aiproxy, postgres and redis", names)
	}
	a := p.Services["aiproxy"]
	for _, dep := range []string{"postgres", "redis"} {
		if d, ok := a.DependsOn[dep]; !ok || d.Condition != types.ServiceConditionHealthy {
			t.Errorf("aiproxy depends on %s as %+v, want service_healthy", dep, d)
		}
		if p.Services[dep].HealthCheck == nil || len(p.Services[dep].HealthCheck.Test) == 0 {
			t.Errorf("%s has no health check for aiproxy to wait on", dep)
		}
	}
	env := a.Environment
	for name, want := range map[string]string{"AIPROXY_DATABASE_URL": "@postgres:5432/", "AIPROXY_REDIS_URL": "redis://redis:6379/",
		"AIPROXY_MASTER_KEY": strings.Repeat("ab", 32)} {
		if v := env[name]; v == nil || !strings.Contains(*v, want) {
			t.Errorf("aiproxy's %s = %v, want it to hold %q", name, v, want)
		}
	}
	for name := range env {
		if !strings.HasPrefix(name, "AIPROXY_") {
			t.Errorf("aiproxy's environment sets %s, not an AIPROXY_ variable", name)
		}
	}
	if !slices.Equal([]string(a.Command), []string{"serve"}) {
		t.Errorf("aiproxy runs %v, want serve", a.Command)
	}
	if a.Build == nil || a.Build.Dockerfile != "deploy/container/Containerfile" {
		t.Errorf("aiproxy builds with %+v, want deploy/container/Containerfile", a.Build)
	}
	if len(a.Ports) != 1 || a.Ports[0].HostIP != "127.0.0.1" || a.Ports[0].Target != 8080 {
		t.Errorf("aiproxy publishes %+v, want 8080 on 127.0.0.1 only", a.Ports)
	}
	if !a.ReadOnly || !slices.Contains(a.CapDrop, "ALL") {
		t.Errorf("aiproxy: read_only %v, cap_drop %v; want a read-only root and no capabilities", a.ReadOnly, a.CapDrop)
	}

	if _, err := loadCompose(t); err == nil || !strings.Contains(err.Error(), "AIPROXY_MASTER_KEY") {
		t.Errorf("without AIPROXY_MASTER_KEY the file loads (%v); it must refuse, naming the variable", err)
	}
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

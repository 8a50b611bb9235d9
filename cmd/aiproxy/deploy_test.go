package main

import (
	"bufio"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// servedEnv returns every environment variable that serve reads, by
// running its flag registration and key loading with an environment that
// records what is asked of it.
func servedEnv(t *testing.T) map[string]bool {
	t.Helper()
	seen := map[string]bool{}
	rec := func(name string) string { seen[name] = true; return "" }
	var f serverFlags
	f.register(newFlagSet("serve", "serve", stdio{out: io.Discard, err: io.Discard}), rec, "aiproxy-data")
	_, _ = f.key.vault(rec)
	return seen
}

func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

type k8sProbe struct {
	HTTPGet struct {
		Path string `yaml:"path"`
		Port string `yaml:"port"`
	} `yaml:"httpGet"`
}

type k8sContainer struct {
	Name  string   `yaml:"name"`
	Args  []string `yaml:"args"`
	Ports []struct {
		Name          string `yaml:"name"`
		ContainerPort int    `yaml:"containerPort"`
	} `yaml:"ports"`
	EnvFrom []struct {
		SecretRef    *struct{ Name string } `yaml:"secretRef"`
		ConfigMapRef *struct{ Name string } `yaml:"configMapRef"`
	} `yaml:"envFrom"`
	Env []struct {
		Name      string `yaml:"name"`
		ValueFrom struct {
			SecretKeyRef struct {
				Name string `yaml:"name"`
				Key  string `yaml:"key"`
			} `yaml:"secretKeyRef"`
		} `yaml:"valueFrom"`
	} `yaml:"env"`
	StartupProbe   *k8sProbe `yaml:"startupProbe"`
	LivenessProbe  *k8sProbe `yaml:"livenessProbe"`
	ReadinessProbe *k8sProbe `yaml:"readinessProbe"`
}

type k8sDeployment struct {
	Kind string `yaml:"kind"`
	Spec struct {
		Selector struct {
			MatchLabels map[string]string `yaml:"matchLabels"`
		} `yaml:"selector"`
		Template struct {
			Metadata struct {
				Labels map[string]string `yaml:"labels"`
			} `yaml:"metadata"`
			Spec struct {
				TerminationGracePeriodSeconds int            `yaml:"terminationGracePeriodSeconds"`
				InitContainers                []k8sContainer `yaml:"initContainers"`
				Containers                    []k8sContainer `yaml:"containers"`
			} `yaml:"spec"`
		} `yaml:"template"`
	} `yaml:"spec"`
}

// TestKubernetesManifests checks deploy/k8s against the binary: every
// variable it sets is one serve reads, the probes hit /healthz and /readyz
// on the port serve listens on, the Service reaches that port, secrets come
// from the Secret, and the grace period covers the drain.
func TestKubernetesManifests(t *testing.T) {
	known := servedEnv(t)
	dir := filepath.Join("..", "..", "deploy", "k8s")
	var dep k8sDeployment
	readYAML(t, filepath.Join(dir, "deployment.yaml"), &dep)
	var cm struct {
		Kind string            `yaml:"kind"`
		Data map[string]string `yaml:"data"`
	}
	readYAML(t, filepath.Join(dir, "configmap.yaml"), &cm)
	var secret struct {
		Kind       string            `yaml:"kind"`
		StringData map[string]string `yaml:"stringData"`
	}
	readYAML(t, filepath.Join(dir, "secret.example.yaml"), &secret)
	var svc struct {
		Kind string `yaml:"kind"`
		Spec struct {
			Selector map[string]string `yaml:"selector"`
			Ports    []struct {
				TargetPort string `yaml:"targetPort"`
			} `yaml:"ports"`
		} `yaml:"spec"`
	}
	readYAML(t, filepath.Join(dir, "service.yaml"), &svc)
	if dep.Kind != "Deployment" || cm.Kind != "ConfigMap" || secret.Kind != "Secret" || svc.Kind != "Service" {
		t.Fatalf("kinds = %q %q %q %q", dep.Kind, cm.Kind, secret.Kind, svc.Kind)
	}

	for name := range cm.Data {
		if !known[name] {
			t.Errorf("configmap sets %s, which serve does not read", name)
		}
	}
	for name := range secret.StringData {
		if !known[name] {
			t.Errorf("secret holds %s, which serve does not read", name)
		}
	}
	for _, must := range []string{"AIPROXY_MASTER_KEY", "AIPROXY_DATABASE_URL", "AIPROXY_REDIS_URL"} {
		if _, ok := secret.StringData[must]; !ok {
			t.Errorf("the secret lacks %s", must)
		}
		if _, ok := cm.Data[must]; ok {
			t.Errorf("%s is in the configmap; it belongs in the secret", must)
		}
	}

	_, port, err := net.SplitHostPort(cm.Data["AIPROXY_ADDR"])
	if err != nil {
		t.Fatalf("AIPROXY_ADDR %q: %v", cm.Data["AIPROXY_ADDR"], err)
	}
	pod := dep.Spec.Template.Spec
	if len(pod.Containers) != 1 {
		t.Fatalf("%d containers, want 1", len(pod.Containers))
	}
	c := pod.Containers[0]
	if len(c.Args) == 0 || c.Args[0] != "serve" {
		t.Errorf("container args %v, want serve", c.Args)
	}
	if len(pod.InitContainers) != 1 || pod.InitContainers[0].Args[0] != "migrate" {
		t.Errorf("init containers %+v, want one running migrate", pod.InitContainers)
	}
	if len(c.Ports) != 1 || c.Ports[0].Name != "http" || port != strconv.Itoa(c.Ports[0].ContainerPort) {
		t.Errorf("container ports %+v do not match AIPROXY_ADDR %s", c.Ports, cm.Data["AIPROXY_ADDR"])
	}
	probes := map[string]*k8sProbe{"/healthz": c.LivenessProbe, "/readyz": c.ReadinessProbe}
	probes["/healthz "] = c.StartupProbe
	for path, p := range probes {
		if p == nil || p.HTTPGet.Path != strings.TrimSpace(path) || p.HTTPGet.Port != "http" {
			t.Errorf("probe for %s = %+v", path, p)
		}
	}
	for _, e := range c.Env {
		if !known[e.Name] {
			t.Errorf("container env %s is not read by serve", e.Name)
		}
		if ref := e.ValueFrom.SecretKeyRef; ref.Name != "aiproxy" || secret.StringData[ref.Key] == "" {
			t.Errorf("env %s comes from %+v, not a key of the aiproxy secret", e.Name, ref)
		}
	}
	if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].TargetPort != "http" {
		t.Errorf("service ports %+v, want targetPort http", svc.Spec.Ports)
	}
	for k, v := range svc.Spec.Selector {
		if dep.Spec.Template.Metadata.Labels[k] != v || dep.Spec.Selector.MatchLabels[k] != v {
			t.Errorf("service selector %s=%s does not select the pods", k, v)
		}
	}
	delay, _ := time.ParseDuration(cm.Data["AIPROXY_SHUTDOWN_DELAY"])
	timeout, _ := time.ParseDuration(cm.Data["AIPROXY_SHUTDOWN_TIMEOUT"])
	if grace := time.Duration(pod.TerminationGracePeriodSeconds) * time.Second; grace <= delay+timeout {
		t.Errorf("terminationGracePeriodSeconds %v does not cover the drain (%v + %v)", grace, delay, timeout)
	}
	var f serverFlags
	fs := newFlagSet("serve", "serve", stdio{out: io.Discard, err: io.Discard})
	f.register(fs, func(name string) string { return cm.Data[name] }, "aiproxy-data")
	if err := f.validate(); err != nil {
		t.Errorf("serve rejects the configmap's settings: %v", err)
	}
}

// TestSystemdUnit checks deploy/systemd/aiproxy.service: it parses, runs
// `aiproxy serve` after `aiproxy migrate`, sets only variables serve reads,
// stops with SIGTERM and waits longer than the drain. When systemd-analyze
// is installed, the unit also passes `systemd-analyze verify`.
func TestSystemdUnit(t *testing.T) {
	path := filepath.Join("..", "..", "deploy", "systemd", "aiproxy.service")
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	unit := map[string]map[string][]string{}
	section := ""
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = strings.Trim(line, "[]")
			unit[section] = map[string][]string{}
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || section == "" {
				t.Fatalf("line %d: %q is not KEY=VALUE in a section", n, line)
			}
			unit[section][k] = append(unit[section][k], v)
		}
	}
	svc := unit["Service"]
	if svc == nil || unit["Unit"] == nil || unit["Install"] == nil {
		t.Fatalf("sections %v, want Unit, Service and Install", unit)
	}
	if got := svc["ExecStart"]; len(got) != 1 || !strings.HasSuffix(got[0], "aiproxy serve") {
		t.Errorf("ExecStart = %v, want aiproxy serve", got)
	}
	if got := svc["ExecStartPre"]; len(got) != 1 || !strings.HasSuffix(got[0], "aiproxy migrate") {
		t.Errorf("ExecStartPre = %v, want aiproxy migrate", got)
	}
	known := servedEnv(t)
	var timeout time.Duration
	for _, kv := range svc["Environment"] {
		name, value, _ := strings.Cut(kv, "=")
		if !known[name] {
			t.Errorf("Environment sets %s, which serve does not read", name)
		}
		if name == "AIPROXY_SHUTDOWN_TIMEOUT" {
			timeout, _ = time.ParseDuration(value)
		}
	}
	stop, _ := time.ParseDuration(svc["TimeoutStopSec"][0])
	if got := svc["KillSignal"]; len(got) != 1 || got[0] != "SIGTERM" || stop <= timeout {
		t.Errorf("KillSignal %v, TimeoutStopSec %v: want SIGTERM and more than the shutdown timeout %v", got, stop, timeout)
	}
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Log("systemd-analyze not installed; parsed the unit only")
		return
	}
	// verify wants the binaries to exist: point them at one that does.
	b, _ := os.ReadFile(path)
	tmp := filepath.Join(t.TempDir(), "aiproxy.service")
	if err := os.WriteFile(tmp, []byte(strings.ReplaceAll(string(b), "/usr/local/bin/aiproxy", "/bin/true")), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("systemd-analyze", "verify", tmp).CombinedOutput(); err != nil {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}

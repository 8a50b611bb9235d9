package check

import (
	"context"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

const chart = "../helm/aiproxy"

// kubeVersion is the Kubernetes version the chart is rendered for: a helm
// built with go install assumes v1.20, older than the chart allows.
const kubeVersion = "1.33.0"

// helm returns the helm binary: $AIPROXY_HELM, or helm on the PATH. The
// chart's tests skip without one, unless AIPROXY_TEST_HELM is set (CI).
func helm(t *testing.T) string {
	t.Helper()
	path := os.Getenv("AIPROXY_HELM")
	if path == "" {
		path, _ = exec.LookPath("helm")
	}
	if path == "" {
		if os.Getenv("AIPROXY_TEST_HELM") != "" {
			t.Fatal("AIPROXY_TEST_HELM is set but no helm: set AIPROXY_HELM or put helm on the PATH")
		}
		t.Skip("no helm: set AIPROXY_HELM or put helm on the PATH")
	}
	return path
}

// runHelm runs helm with args and returns its standard output.
func runHelm(t *testing.T, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, helm(t), args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return string(out), fmt.Errorf("helm %s: %w\n%s%s", strings.Join(args, " "), err, out, stderr.String())
	}
	return string(out), nil
}

// rendered is one chart rendering, decoded.
type rendered struct {
	deployment     *appsv1.Deployment
	service        *corev1.Service
	configMap      *corev1.ConfigMap
	serviceAccount *corev1.ServiceAccount
	pdb            *policyv1.PodDisruptionBudget
	hpa            *autoscalingv2.HorizontalPodAutoscaler
	serviceMonitor *monitoringv1.ServiceMonitor
}

// decodeStrict decodes one YAML object into the Kubernetes type its
// apiVersion and kind name, refusing unknown and duplicate fields and
// values of the wrong type, and records it in r.
func (r *rendered) decodeStrict(doc []byte) error {
	var meta metav1.TypeMeta
	if err := yaml.Unmarshal(doc, &meta); err != nil {
		return err
	}
	var into any
	switch meta.APIVersion + " " + meta.Kind {
	case "apps/v1 Deployment":
		r.deployment = &appsv1.Deployment{}
		into = r.deployment
	case "v1 Service":
		r.service = &corev1.Service{}
		into = r.service
	case "v1 ConfigMap":
		r.configMap = &corev1.ConfigMap{}
		into = r.configMap
	case "v1 ServiceAccount":
		r.serviceAccount = &corev1.ServiceAccount{}
		into = r.serviceAccount
	case "policy/v1 PodDisruptionBudget":
		r.pdb = &policyv1.PodDisruptionBudget{}
		into = r.pdb
	case "autoscaling/v2 HorizontalPodAutoscaler":
		r.hpa = &autoscalingv2.HorizontalPodAutoscaler{}
		into = r.hpa
	case "monitoring.coreos.com/v1 ServiceMonitor":
		r.serviceMonitor = &monitoringv1.ServiceMonitor{}
		into = r.serviceMonitor
	default:
		return fmt.Errorf("no check for %s %s", meta.APIVersion, meta.Kind)
	}
	if err := yaml.UnmarshalStrict(doc, into); err != nil {
		return fmt.Errorf("%s: %w", meta.Kind, err)
	}
	return nil
}

// documents splits a YAML stream into its non-empty documents.
func documents(stream string) [][]byte {
	var docs [][]byte
	for _, d := range strings.Split("\n"+stream, "\n---") {
		body := strings.TrimSpace(d)
		nonComment := false
		for _, line := range strings.Split(body, "\n") {
			if l := strings.TrimSpace(line); l != "" && !strings.HasPrefix(l, "#") {
				nonComment = true
			}
		}
		if nonComment {
			docs = append(docs, []byte(body))
		}
	}
	return docs
}

func render(t *testing.T, valuesFile string) *rendered {
	t.Helper()
	args := []string{"template", "rel", chart, "--namespace", "media", "--kube-version", kubeVersion}
	if valuesFile != "" {
		args = append(args, "--values", valuesFile)
	}
	out, err := runHelm(t, args...)
	if err != nil {
		t.Fatal(err)
	}
	r := &rendered{}
	for _, doc := range documents(out) {
		if err := r.decodeStrict(doc); err != nil {
			t.Errorf("values %q: %v\n%s", valuesFile, err, doc)
		}
	}
	if r.deployment == nil || r.service == nil || r.configMap == nil {
		t.Fatalf("values %q: rendered no Deployment, Service or ConfigMap:\n%s", valuesFile, out)
	}
	return r
}

// TestChartLints runs helm lint --strict under the default values and
// under each set in the chart's ci/ folder.
func TestChartLints(t *testing.T) {
	for _, values := range valueSets(t) {
		args := []string{"lint", "--strict", "--kube-version", kubeVersion, chart}
		if values != "" {
			args = append(args, "--values", values)
		}
		if out, err := runHelm(t, args...); err != nil {
			t.Errorf("%v\n%s", err, out)
		}
	}
}

func valueSets(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(chart, "ci", "*-values.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no ci/*-values.yaml in the chart: %v", err)
	}
	return append([]string{""}, files...)
}

// TestChartRenders decodes every object each value set renders strictly
// into its Kubernetes type and checks that the objects fit together: the
// Service, the PodDisruptionBudget and the ServiceMonitor select the pods,
// ports and probes name the container's ports, secrets come from the named
// Secret, the pods run as the image's non-root user on a read-only root,
// and the migration runs first.
func TestChartRenders(t *testing.T) {
	for _, values := range valueSets(t) {
		name := filepath.Base(values)
		if values == "" {
			name = "default-values"
		}
		t.Run(name, func(t *testing.T) {
			r := render(t, values)
			checkPods(t, r)
		})
	}
}

func checkPods(t *testing.T, r *rendered) {
	t.Helper()
	dep := r.deployment
	pod := dep.Spec.Template
	if !isSubset(dep.Spec.Selector.MatchLabels, pod.Labels) {
		t.Errorf("the Deployment's selector %v does not select its pods %v", dep.Spec.Selector.MatchLabels, pod.Labels)
	}
	if !isSubset(r.service.Spec.Selector, pod.Labels) {
		t.Errorf("the Service selects %v, not the pods %v", r.service.Spec.Selector, pod.Labels)
	}
	if len(pod.Spec.Containers) != 1 {
		t.Fatalf("%d containers, want 1", len(pod.Spec.Containers))
	}
	c := pod.Spec.Containers[0]
	if !slices.Equal(c.Args, []string{"serve"}) {
		t.Errorf("args %v, want serve", c.Args)
	}
	if len(pod.Spec.InitContainers) != 1 || !slices.Equal(pod.Spec.InitContainers[0].Args, []string{"migrate"}) ||
		pod.Spec.InitContainers[0].Image != c.Image {
		t.Errorf("init containers %+v, want one running migrate from the same image", pod.Spec.InitContainers)
	}
	ports := map[string]int32{}
	for _, p := range c.Ports {
		ports[p.Name] = p.ContainerPort
	}
	for _, sp := range r.service.Spec.Ports {
		if _, ok := ports[sp.TargetPort.String()]; !ok {
			t.Errorf("the Service's port %s targets %q, which the container does not have (%v)", sp.Name, sp.TargetPort.String(), ports)
		}
	}
	for name, p := range map[string]*corev1.Probe{"startup": c.StartupProbe, "liveness": c.LivenessProbe, "readiness": c.ReadinessProbe} {
		want := map[string]string{"startup": "/healthz", "liveness": "/healthz", "readiness": "/readyz"}[name]
		if p == nil || p.HTTPGet == nil || p.HTTPGet.Path != want || p.HTTPGet.Port.String() != "http" {
			t.Errorf("%s probe %+v, want GET %s on port http", name, p, want)
		}
	}
	addr := r.configMap.Data["AIPROXY_ADDR"]
	if want := fmt.Sprintf(":%d", ports["http"]); !strings.HasSuffix(addr, want) {
		t.Errorf("AIPROXY_ADDR %q does not listen on the http port %d", addr, ports["http"])
	}
	for k := range r.configMap.Data {
		if !strings.HasPrefix(k, "AIPROXY_") {
			t.Errorf("the ConfigMap sets %s, not an AIPROXY_ variable", k)
		}
	}
	for _, cont := range append([]corev1.Container{c}, pod.Spec.InitContainers...) {
		checkEnv(t, r, cont)
		sc := cont.SecurityContext
		if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem || sc.AllowPrivilegeEscalation == nil ||
			*sc.AllowPrivilegeEscalation || sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) {
			t.Errorf("%s: security context %+v, want a read-only root, no privilege escalation, all capabilities dropped", cont.Name, sc)
		}
		if cont.Resources.Requests.Cpu().IsZero() || cont.Resources.Requests.Memory().IsZero() || cont.Resources.Limits.Memory().IsZero() {
			t.Errorf("%s: resources %+v, want CPU and memory requests and a memory limit", cont.Name, cont.Resources)
		}
	}
	psc := pod.Spec.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser != 65532 {
		t.Errorf("pod security context %+v, want non-root uid 65532, the image's user", psc)
	}
	if pod.Spec.AutomountServiceAccountToken == nil || *pod.Spec.AutomountServiceAccountToken {
		t.Error("the pods mount a service account token; aiproxy calls no Kubernetes API")
	}
	if r.serviceAccount != nil && pod.Spec.ServiceAccountName != r.serviceAccount.Name {
		t.Errorf("the pods run as %q, not the chart's service account %q", pod.Spec.ServiceAccountName, r.serviceAccount.Name)
	}
	if r.pdb != nil && !isSubset(r.pdb.Spec.Selector.MatchLabels, pod.Labels) {
		t.Errorf("the PodDisruptionBudget selects %v, not the pods", r.pdb.Spec.Selector.MatchLabels)
	}
	if r.hpa != nil {
		if ref := r.hpa.Spec.ScaleTargetRef; ref.Kind != "Deployment" || ref.Name != dep.Name {
			t.Errorf("the HorizontalPodAutoscaler scales %+v, not the Deployment %s", ref, dep.Name)
		}
		if dep.Spec.Replicas != nil {
			t.Error("with autoscaling the Deployment must leave replicas to the HorizontalPodAutoscaler")
		}
	}
	if sm := r.serviceMonitor; sm != nil {
		if !isSubset(sm.Spec.Selector.MatchLabels, r.service.Labels) || len(sm.Spec.Endpoints) != 1 || sm.Spec.Endpoints[0].Port != "metrics" {
			t.Errorf("the ServiceMonitor %+v does not scrape the Service's metrics port", sm.Spec)
		}
		if _, ok := ports["metrics"]; !ok {
			t.Error("a ServiceMonitor without a metrics port on the container")
		}
	}
}

// checkEnv checks that a container reads the ConfigMap and takes every
// secret from the Secret the values name, and that the server's
// environment is all AIPROXY_ variables.
func checkEnv(t *testing.T, r *rendered, c corev1.Container) {
	t.Helper()
	if len(c.EnvFrom) != 1 || c.EnvFrom[0].ConfigMapRef == nil || c.EnvFrom[0].ConfigMapRef.Name != r.configMap.Name {
		t.Errorf("%s: envFrom %+v, want the ConfigMap %s", c.Name, c.EnvFrom, r.configMap.Name)
	}
	secrets := 0
	for _, e := range c.Env {
		if !strings.HasPrefix(e.Name, "AIPROXY_") {
			t.Errorf("%s: env %s is not an AIPROXY_ variable", c.Name, e.Name)
		}
		if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
			secrets++
			if ref := e.ValueFrom.SecretKeyRef; ref.Name != "aiproxy" || ref.Key != e.Name {
				t.Errorf("%s: env %s comes from %s/%s, want key %s of the Secret aiproxy", c.Name, e.Name, ref.Name, ref.Key, e.Name)
			}
		}
	}
	if secrets < 3 {
		t.Errorf("%s: %d variables from the Secret, want the master key, the database URL and the Redis URL at least", c.Name, secrets)
	}
}

func isSubset(sub, of map[string]string) bool {
	if len(sub) == 0 {
		return false
	}
	for k, v := range sub {
		if of[k] != v {
			return false
		}
	}
	return true
}

// TestChartRefusesServiceMonitorWithoutMetrics checks that the chart stops
// with a reason rather than render a ServiceMonitor with nothing to scrape.
func TestChartRefusesServiceMonitorWithoutMetrics(t *testing.T) {
	_, err := runHelm(t, "template", "rel", chart, "--kube-version", kubeVersion, "--set", "serviceMonitor.enabled=true")
	if err == nil || !strings.Contains(err.Error(), "serviceMonitor.enabled needs metrics.enabled") {
		t.Errorf("helm template with a ServiceMonitor and no metrics port: %v", err)
	}
}

// readManifest decodes a file of deploy/k8s strictly into v.
func readManifest(t *testing.T, name string, v any) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "k8s", name))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.UnmarshalStrict(data, v); err != nil {
		t.Fatalf("deploy/k8s/%s: %v", name, err)
	}
}

// TestManifestsMatchChart keeps deploy/k8s, the manifests for those who
// apply YAML by hand, in step with the chart: decoded strictly into the
// same types, they set the same configuration, the same Secret keys, and
// the same container (arguments, ports, probes, resources, security) as
// the chart renders under ci/manifests-values.yaml.
func TestManifestsMatchChart(t *testing.T) {
	r := render(t, filepath.Join(chart, "ci", "manifests-values.yaml"))
	var dep appsv1.Deployment
	var cm corev1.ConfigMap
	var svc corev1.Service
	var secret corev1.Secret
	readManifest(t, "deployment.yaml", &dep)
	readManifest(t, "configmap.yaml", &cm)
	readManifest(t, "service.yaml", &svc)
	readManifest(t, "secret.example.yaml", &secret)

	if !maps.Equal(cm.Data, r.configMap.Data) {
		t.Errorf("deploy/k8s/configmap.yaml sets %v\nthe chart sets       %v", cm.Data, r.configMap.Data)
	}
	chartSecrets := secretKeys(r.deployment.Spec.Template.Spec.Containers[0])
	if got := secretKeys(dep.Spec.Template.Spec.Containers[0]); !slices.Equal(got, chartSecrets) {
		t.Errorf("deploy/k8s reads secrets %v, the chart %v", got, chartSecrets)
	}
	if keys := slices.Sorted(maps.Keys(secret.StringData)); !slices.Equal(keys, chartSecrets) {
		t.Errorf("deploy/k8s/secret.example.yaml holds %v, the chart reads %v", keys, chartSecrets)
	}
	want, got := r.deployment.Spec.Template.Spec, dep.Spec.Template.Spec
	if *got.TerminationGracePeriodSeconds != *want.TerminationGracePeriodSeconds {
		t.Errorf("grace period %d, chart %d", *got.TerminationGracePeriodSeconds, *want.TerminationGracePeriodSeconds)
	}
	if !reflect.DeepEqual(dep.Spec.Strategy, r.deployment.Spec.Strategy) {
		t.Errorf("strategy %+v, chart %+v", dep.Spec.Strategy, r.deployment.Spec.Strategy)
	}
	gc, wc := got.Containers[0], want.Containers[0]
	for _, f := range []struct {
		name      string
		got, want any
	}{
		{"args", gc.Args, wc.Args},
		{"ports", gc.Ports, wc.Ports},
		{"startupProbe", gc.StartupProbe, wc.StartupProbe},
		{"livenessProbe", gc.LivenessProbe, wc.LivenessProbe},
		{"readinessProbe", gc.ReadinessProbe, wc.ReadinessProbe},
		{"resources", gc.Resources, wc.Resources},
		{"securityContext", gc.SecurityContext, wc.SecurityContext},
		{"init args", got.InitContainers[0].Args, want.InitContainers[0].Args},
		{"service ports", svc.Spec.Ports, r.service.Spec.Ports},
	} {
		if !reflect.DeepEqual(f.got, f.want) {
			t.Errorf("deploy/k8s and the chart differ in %s:\n k8s:   %+v\n chart: %+v", f.name, f.got, f.want)
		}
	}
}

// secretKeys lists, sorted, the Secret keys a container's environment reads.
func secretKeys(c corev1.Container) []string {
	var keys []string
	for _, e := range c.Env {
		if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
			keys = append(keys, e.ValueFrom.SecretKeyRef.Key)
		}
	}
	slices.Sort(keys)
	return keys
}

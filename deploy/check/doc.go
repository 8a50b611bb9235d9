// Package check holds the offline checks of aiproxy's deployment files:
// the Helm chart (deploy/helm/aiproxy) rendered by helm and decoded
// strictly into the Kubernetes API types, kept in step with the plain
// manifests in deploy/k8s, and the compose file (deploy/compose) loaded by
// the Compose specification's own loader. It is a module of its own, so
// that the Kubernetes and Compose libraries stay out of aiproxy's go.mod.
package check

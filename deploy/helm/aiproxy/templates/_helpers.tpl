{{/* The chart's name, or nameOverride. */}}
{{- define "aiproxy.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The objects' name: fullnameOverride, or the release name, with the chart's name unless the release name holds it. */}}
{{- define "aiproxy.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* The labels that select the pods. */}}
{{- define "aiproxy.selectorLabels" -}}
app.kubernetes.io/name: {{ include "aiproxy.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* The labels of every object. */}}
{{- define "aiproxy.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "aiproxy.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "aiproxy.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "aiproxy.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "aiproxy.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end }}

{{/* The environment of the server and the migration: the ConfigMap, then the Secret's keys. */}}
{{- define "aiproxy.env" -}}
envFrom:
  - configMapRef:
      name: {{ include "aiproxy.fullname" . }}
env:
  {{- range .Values.secret.keys }}
  - name: {{ . }}
    valueFrom:
      secretKeyRef:
        name: {{ required "secret.name must name an existing Secret" $.Values.secret.name }}
        key: {{ . }}
  {{- end }}
  {{- if .Values.metrics.enabled }}
  - name: AIPROXY_METRICS_ADDR
    value: {{ printf "0.0.0.0:%d" (int .Values.metrics.port) | quote }}
  {{- end }}
  {{- with .Values.extraEnv }}
  {{- toYaml . | nindent 2 }}
  {{- end }}
{{- end }}

{{/* The port serve listens on, from config.AIPROXY_ADDR (host:port). */}}
{{- define "aiproxy.port" -}}
{{- $addr := required "config.AIPROXY_ADDR must be host:port" .Values.config.AIPROXY_ADDR | toString }}
{{- $port := regexFind "[0-9]+$" $addr }}
{{- if not $port }}{{ fail (printf "config.AIPROXY_ADDR %q has no port" $addr) }}{{ end }}
{{- $port }}
{{- end }}

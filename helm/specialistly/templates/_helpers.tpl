{{- define "specialistly.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "specialistly.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "specialistly.selector" -}}
app.kubernetes.io/name: {{ .root.Chart.Name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "specialistly.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{- define "specialistly.secretName" -}}
{{- .Values.secrets.existingSecret | default (printf "%s-secrets" (include "specialistly.fullname" .)) -}}
{{- end -}}

{{/* The environment shared by the API and the workers. */}}
{{- define "specialistly.env" -}}
envFrom:
  - configMapRef:
      name: {{ include "specialistly.fullname" . }}-config
env:
  - name: SPECIALISTLY_JWT_SECRET
    valueFrom: {secretKeyRef: {name: {{ include "specialistly.secretName" . }}, key: jwtSecret}}
  - name: MONGODB_URL
    valueFrom: {secretKeyRef: {name: {{ include "specialistly.secretName" . }}, key: mongodbUrl}}
  - name: REDIS_URL
    valueFrom: {secretKeyRef: {name: {{ include "specialistly.secretName" . }}, key: redisUrl}}
  {{- if .Values.metrics.enabled }}
  - name: SPECIALISTLY_METRICS_TOKEN
    valueFrom: {secretKeyRef: {name: {{ include "specialistly.secretName" . }}, key: metricsToken, optional: true}}
  {{- end }}
  {{- range $name, $_ := .Values.secrets.pluginSecrets }}
  - name: {{ $name }}
    valueFrom: {secretKeyRef: {name: {{ include "specialistly.secretName" $ }}, key: {{ $name }}}}
  {{- end }}
{{- end -}}

{{/* Where Prometheus finds a pod's metrics (the scrape job adds the token). */}}
{{- define "specialistly.scrapeAnnotations" -}}
{{- if .root.Values.metrics.enabled -}}
prometheus.io/scrape: "true"
prometheus.io/port: {{ .port | quote }}
prometheus.io/path: /metrics
prometheus.io/scheme: http
{{- end }}
{{- end -}}

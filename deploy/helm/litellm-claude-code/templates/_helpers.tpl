{{/* Names, labels, and the checks that refuse an unusable set of values. */}}

{{- define "lcc.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "lcc.fullname" -}}
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

{{- define "lcc.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "lcc.commonLabels" -}}
helm.sh/chart: {{ include "lcc.chart" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "lcc.labels" -}}
{{ include "lcc.commonLabels" . }}
{{ include "lcc.selectorLabels" . }}
{{- end }}

{{- define "lcc.redis.labels" -}}
{{ include "lcc.commonLabels" . }}
{{ include "lcc.redis.selectorLabels" . }}
{{- end }}

{{- define "lcc.selectorLabels" -}}
app.kubernetes.io/name: {{ include "lcc.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: proxy
{{- end }}

{{- define "lcc.redis.fullname" -}}
{{- printf "%s-redis" (include "lcc.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "lcc.redis.selectorLabels" -}}
app.kubernetes.io/name: {{ include "lcc.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: redis
{{- end }}

{{- define "lcc.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "lcc.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The Secret holding the Claude credential and the master key. */}}
{{- define "lcc.secretName" -}}
{{- default (include "lcc.fullname" .) .Values.auth.existingSecret }}
{{- end }}

{{/* The Secret holding the Redis password, when there is one. */}}
{{- define "lcc.redis.secretName" -}}
{{- if .Values.redis.existingSecret }}
{{- .Values.redis.existingSecret }}
{{- else }}
{{- include "lcc.redis.fullname" . }}
{{- end }}
{{- end }}

{{/* Whether the proxy uses a Redis at all, and whether it has a password. */}}
{{- define "lcc.redis.used" -}}
{{- if or .Values.redis.enabled .Values.redis.host }}true{{ end }}
{{- end }}

{{- define "lcc.redis.hasPassword" -}}
{{- if or .Values.redis.enabled .Values.redis.existingSecret .Values.redis.password }}true{{ end }}
{{- end }}

{{- define "lcc.redis.host" -}}
{{- if .Values.redis.enabled }}
{{- include "lcc.redis.fullname" . }}
{{- else }}
{{- .Values.redis.host }}
{{- end }}
{{- end }}

{{- define "lcc.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/*
A value kept across upgrades: the given one, else the one already in the
cluster's Secret (lookup; empty under `helm template`), else a new random one.
Arguments: (list $ secretName key given prefix)
*/}}
{{- define "lcc.stableSecret" -}}
{{- $root := index . 0 }}
{{- $existing := lookup "v1" "Secret" $root.Release.Namespace (index . 1) }}
{{- $found := dig "data" (index . 2) "" ($existing | default dict) | b64dec }}
{{- index . 3 | default $found | default (printf "%s%s" (index . 4) (randAlphaNum 40)) }}
{{- end }}

{{/* Fails the render with a message naming the value to fix. */}}
{{- define "lcc.validate" -}}
{{- $v := .Values }}
{{- if and (not $v.auth.existingSecret) (not $v.auth.oauthToken) (not $v.auth.apiKey) }}
{{- fail "no Claude credential: set auth.oauthToken (from `claude setup-token`), auth.apiKey (an Anthropic API key), or auth.existingSecret (a Secret you manage)" }}
{{- end }}
{{- if and $v.auth.masterKey (not (hasPrefix "sk-" $v.auth.masterKey)) }}
{{- fail "auth.masterKey must start with sk- (LiteLLM refuses other master keys)" }}
{{- end }}
{{- if eq $v.auth.masterKey "sk-1234" }}
{{- fail "auth.masterKey sk-1234 is LiteLLM's documented example and is refused; leave it empty to generate one" }}
{{- end }}
{{- if and (not $v.maxProcesses) (not (dig "limits" "memory" "" $v.resources)) }}
{{- fail "set resources.limits.memory (the proxy derives its Claude Code process cap from it) or maxProcesses; without either, the cap would follow the node's whole memory" }}
{{- end }}
{{- $needed := add $v.preStopDelaySeconds $v.shutdownGrace 5 }}
{{- if le (int $v.terminationGracePeriodSeconds) (int $needed) }}
{{- fail (printf "terminationGracePeriodSeconds (%v) must exceed preStopDelaySeconds + shutdownGrace + 5 s for the proxy to exit (%v)" $v.terminationGracePeriodSeconds $needed) }}
{{- end }}
{{- if and $v.redis.enabled $v.redis.host }}
{{- fail "set either redis.enabled (a Redis in this release) or redis.host (an external one), not both" }}
{{- end }}
{{- if and $v.persistence.enabled (gt (int $v.replicaCount) 1) (not (has "ReadWriteMany" $v.persistence.accessModes)) }}
{{- fail (printf "persistence with accessModes %v holds one replica, not replicaCount %v: use ReadWriteMany, or leave persistence off (an emptyDir per pod)" $v.persistence.accessModes $v.replicaCount) }}
{{- end }}
{{- end }}

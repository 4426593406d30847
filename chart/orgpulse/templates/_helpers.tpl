{{/* Names ------------------------------------------------------------------ */}}
{{- define "orgpulse.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "orgpulse.fullname" -}}
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

{{- define "orgpulse.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "orgpulse.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required with serviceAccount.create: false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "orgpulse.secretName" -}}
{{- default (include "orgpulse.fullname" .) .Values.secrets.existingSecret }}
{{- end }}

{{- define "orgpulse.env" -}}
{{- required "env is required: the environment this release reports as (--set env=production)" .Values.env }}
{{- end }}

{{- define "orgpulse.imageTag" -}}
{{- .Values.image.tag | default .Chart.AppVersion }}
{{- end }}

{{- define "orgpulse.version" -}}
{{- .Values.datadog.version | default (include "orgpulse.imageTag" .) }}
{{- end }}

{{/* Labels ----------------------------------------------------------------- */}}
{{- define "orgpulse.selectorLabels" -}}
app.kubernetes.io/name: {{ include "orgpulse.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* Unified Service Tagging: the Agent tags what it collects from these, and the containers
     read DD_ENV/DD_SERVICE/DD_VERSION from them (one source). */}}
{{- define "orgpulse.ustLabels" -}}
tags.datadoghq.com/env: {{ include "orgpulse.env" . | quote }}
tags.datadoghq.com/service: {{ .Values.datadog.service | quote }}
tags.datadoghq.com/version: {{ include "orgpulse.version" . | quote }}
{{- end }}

{{- define "orgpulse.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "orgpulse.selectorLabels" . }}
app.kubernetes.io/version: {{ include "orgpulse.imageTag" . | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{ include "orgpulse.ustLabels" . }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Secrets ----------------------------------------------------------------
     value name: environment variable, key in the chart-made Secret, containers that use it.
     A container mounts only its own: the receiver, which faces the internet, never holds the
     API tokens the poller uses. */}}
{{- define "orgpulse.secretTable" -}}
githubWebhookSecret: {env: GITHUB_WEBHOOK_SECRET, key: github-webhook-secret, containers: [receiver]}
wandbWebhookToken: {env: WANDB_WEBHOOK_TOKEN, key: wandb-webhook-token, containers: [receiver]}
wandbWebhookSecret: {env: WANDB_WEBHOOK_SECRET, key: wandb-webhook-secret, containers: [receiver]}
asanaAccessToken: {env: ASANA_ACCESS_TOKEN, key: asana-access-token, containers: [receiver, poller]}
githubToken: {env: GITHUB_TOKEN, key: github-token, containers: [poller]}
githubAppPrivateKey: {env: GITHUB_APP_PRIVATE_KEY, key: github-app-private-key, containers: [poller]}
wandbApiKey: {env: WANDB_API_KEY, key: wandb-api-key, containers: [poller]}
skypilotServiceAccountToken: {env: SKYPILOT_SERVICE_ACCOUNT_TOKEN, key: skypilot-service-account-token, containers: [poller]}
redisUrl: {env: ORGPULSE_REDIS_URL, key: redis-url, containers: [receiver, poller]}
{{- end }}

{{/* The settings this release sets from a Secret: value name → key in that Secret.
     existingSecret: what existingSecretKeys lists; chart-made: the given values, and
     the GitHub webhook secret always (generated when not given). */}}
{{- define "orgpulse.secretKeys" -}}
{{- $table := include "orgpulse.secretTable" . | fromYaml }}
{{- $out := dict }}
{{- if .Values.secrets.existingSecret }}
{{- range $name, $key := .Values.secrets.existingSecretKeys }}
{{- if $key }}{{ $_ := set $out $name $key }}{{ end }}
{{- end }}
{{- else }}
{{- range $name, $row := $table }}
{{- if or (eq $name "githubWebhookSecret") (get $.Values.secrets $name) }}{{ $_ := set $out $name $row.key }}{{ end }}
{{- end }}
{{- end }}
{{- toYaml $out }}
{{- end }}

{{/* The secret volume of one container: only its keys, each as a file named after its
     variable. Empty when the container uses none. */}}
{{- define "orgpulse.secretItems" -}}
{{- $table := include "orgpulse.secretTable" .root | fromYaml }}
{{- $keys := include "orgpulse.secretKeys" .root | fromYaml }}
{{- range $name, $key := $keys }}
{{- $row := get $table $name }}
{{- if has $.container $row.containers }}
- key: {{ $key | quote }}
  path: {{ $row.env }}
{{- end }}
{{- end }}
{{- end }}

{{- define "orgpulse.secretEnv" -}}
{{- $table := include "orgpulse.secretTable" .root | fromYaml }}
{{- $keys := include "orgpulse.secretKeys" .root | fromYaml }}
{{- range $name, $key := $keys }}
{{- $row := get $table $name }}
{{- if has $.container $row.containers }}
- name: {{ $row.env }}_FILE
  value: /var/run/secrets/orgpulse/{{ $row.env }}
{{- end }}
{{- end }}
{{- end }}

{{/* The command that prints one secret setting (NOTES.txt), from whichever Secret holds it. */}}
{{- define "orgpulse.readSecret" -}}
{{- $key := get (include "orgpulse.secretKeys" .root | fromYaml) .name -}}
kubectl -n {{ .root.Release.Namespace }} get secret {{ include "orgpulse.secretName" .root }} -o jsonpath='{.data.{{ $key }}}' | base64 -d; echo
{{- end }}

{{- define "orgpulse.hasRedis" -}}
{{- $keys := include "orgpulse.secretKeys" . | fromYaml }}
{{- if or (hasKey $keys "redisUrl") (dig "receiver" "redis_url" "" (.Values.config | default dict)) }}true{{ end }}
{{- end }}

{{/* Configuration ----------------------------------------------------------
     The user's `config` with what the chart decides unless the user did: the Kubernetes
     secret store (handshake secrets outlive a pod; replicas share them), names scoped to the
     release (two releases in one namespace never share a Lease or a Secret), Redis dedup when
     a Redis URL is given. */}}
{{- define "orgpulse.effectiveConfig" -}}
{{- $config := deepCopy (.Values.config | default dict) }}
{{- $receiver := dict "secret_store" "kubernetes" "kubernetes_secret" (printf "%s-webhook-secrets" (include "orgpulse.fullname" .)) }}
{{- if include "orgpulse.hasRedis" . }}{{ $_ := set $receiver "dedup_backend" "redis" }}{{ end }}
{{- $_ := set $config "receiver" (merge (get $config "receiver" | default dict) $receiver) }}
{{- $kubernetes := dict "lease_name" (printf "%s-leader" (include "orgpulse.fullname" .)) }}
{{- $_ := set $config "kubernetes" (merge (get $config "kubernetes" | default dict) $kubernetes) }}
{{- toYaml $config }}
{{- end }}

{{/* "true" when the receiver keeps the Asana handshake secrets in a Kubernetes Secret: it
     then calls the API server (and needs its token and the Role on that Secret). */}}
{{- define "orgpulse.kubernetesSecretStore" -}}
{{- $config := include "orgpulse.effectiveConfig" . | fromYaml }}
{{- if eq (dig "receiver" "secret_store" "file" $config) "kubernetes" }}true{{ end }}
{{- end }}

{{/* The refusals: settings that would run but be wrong. */}}
{{- define "orgpulse.validate" -}}
{{- $config := include "orgpulse.effectiveConfig" . | fromYaml }}
{{- $redis := include "orgpulse.hasRedis" . }}
{{- if and (eq (dig "receiver" "dedup_backend" "memory" $config) "redis") (not $redis) }}
{{- fail "config.receiver.dedup_backend is redis but no Redis URL is given (config.receiver.redis_url, or secrets.redisUrl for one with a password)" }}
{{- end }}
{{- if gt (int .Values.replicas) 1 }}
{{- if ne (dig "receiver" "dedup_backend" "memory" $config) "redis" }}
{{- fail (printf "replicas: %d needs a dedup shared by the replicas: give a Redis URL (config.receiver.redis_url, or secrets.redisUrl with a password); without Redis run one replica" (int .Values.replicas)) }}
{{- end }}
{{- if not (include "orgpulse.kubernetesSecretStore" .) }}
{{- fail (printf "replicas: %d needs config.receiver.secret_store: kubernetes, so every replica sees the Asana handshake secrets" (int .Values.replicas)) }}
{{- end }}
{{- if not (dig "kubernetes" "lease_enabled" true $config) }}
{{- fail (printf "replicas: %d needs config.kubernetes.lease_enabled: true, or every replica would send the poller's gauges" (int .Values.replicas)) }}
{{- end }}
{{- end }}
{{- if and .Values.dataDir.persistence.enabled (gt (int .Values.replicas) 1) }}
{{- fail (printf "dataDir.persistence with replicas: %d: a ReadWriteOnce volume holds one pod's data dir; with more than one replica Redis keeps what must survive (DORA's marks), so leave persistence off" (int .Values.replicas)) }}
{{- end }}
{{- if le (int .Values.terminationGracePeriodSeconds) (add (int .Values.receiver.preStopSeconds) (include "orgpulse.gunicornGracefulTimeout" . | int)) }}
{{- fail (printf "terminationGracePeriodSeconds must be longer than receiver.preStopSeconds + gunicorn's graceful timeout (%d + %s s)" (int .Values.receiver.preStopSeconds) (include "orgpulse.gunicornGracefulTimeout" .)) }}
{{- end }}
{{- if and .Values.settings.githubAppId (hasKey (include "orgpulse.secretKeys" . | fromYaml) "githubToken") }}
{{- fail "settings.githubAppId and a GitHub token are both set: authenticate the poller with one of them" }}
{{- end }}
{{- if and .Values.secrets.existingSecret (or .Values.secrets.githubWebhookSecret .Values.secrets.githubToken .Values.secrets.asanaAccessToken .Values.secrets.redisUrl) }}
{{- fail "secrets.existingSecret is set: the secret values belong in that Secret (map its keys in secrets.existingSecretKeys), not in the chart's values" }}
{{- end }}
{{- end }}

{{/* gunicorn's graceful_timeout, baked into the image (receiver/server/gunicorn_conf.py; a test
     keeps the two equal). */}}
{{- define "orgpulse.gunicornGracefulTimeout" -}}20{{- end }}

{{- define "orgpulse.configPath" -}}/etc/orgpulse/config.yaml{{- end }}
{{- define "orgpulse.dataDir" -}}/data{{- end }}

{{- define "orgpulse.roleBinding" }}
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: {{ .name }}
  namespace: {{ .namespace }}
  labels:
    {{- include "orgpulse.labels" .root | nindent 4 }}
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: Role
  name: {{ .name }}
subjects:
  - kind: ServiceAccount
    name: {{ .subject.name }}
    namespace: {{ .subject.namespace }}
{{- end }}

{{- define "orgpulse.informerRules" -}}
- apiGroups: [""]
  resources: [pods]
  verbs: [list, watch]
- apiGroups: [apps]
  resources: [deployments]
  verbs: [list]
- apiGroups: [metrics.k8s.io]
  resources: [pods]
  verbs: [list]
{{- end }}

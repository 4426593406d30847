{{/* What both containers share: the environment, the mounts, the hardening. */}}

{{- define "orgpulse.commonEnv" -}}
{{- range $var, $label := dict "DD_ENV" "env" "DD_SERVICE" "service" "DD_VERSION" "version" }}
- name: {{ $var }}
  valueFrom:
    fieldRef:
      fieldPath: metadata.labels['tags.datadoghq.com/{{ $label }}']
{{- end }}
# Origin detection: the Agent attributes each metric to this pod.
- name: DD_ENTITY_ID
  valueFrom:
    fieldRef:
      fieldPath: metadata.uid
{{- if eq .Values.datadog.transport "uds" }}
- name: DD_DOGSTATSD_URL
  value: unix:///var/run/datadog/{{ .Values.datadog.socketName }}
{{- else }}
- name: DD_AGENT_HOST
  valueFrom:
    fieldRef:
      fieldPath: status.hostIP
- name: DD_DOGSTATSD_PORT
  value: {{ .Values.datadog.port | quote }}
{{- end }}
- name: ORGPULSE_CONFIG
  value: {{ include "orgpulse.configPath" . }}
- name: ORGPULSE_DATA_DIR
  value: {{ include "orgpulse.dataDir" . }}
- name: ORGPULSE_LOG_LEVEL
  value: {{ .Values.settings.logLevel | quote }}
{{- range $var, $value := dict "GITHUB_API_URL" .Values.settings.githubApiUrl "ASANA_BASE_URL" .Values.settings.asanaBaseUrl "WANDB_BASE_URL" .Values.settings.wandbBaseUrl "SKYPILOT_API_SERVER_ENDPOINT" .Values.settings.skypilotApiServerEndpoint }}
{{- if $value }}
- name: {{ $var }}
  value: {{ $value | quote }}
{{- end }}
{{- end }}
{{- if .Values.settings.maxBodyBytes }}
- name: ORGPULSE_MAX_BODY_BYTES
  value: {{ .Values.settings.maxBodyBytes | int64 | quote }}
{{- end }}
{{- range $var, $value := .Values.extraEnv }}
- name: {{ $var }}
  value: {{ $value | quote }}
{{- end }}
{{- end }}

{{/* The poller's alone: a GitHub App's id goes where its private key is mounted (an id
     without its key is refused at start, so the receiver must not get it). */}}
{{- define "orgpulse.pollerEnv" -}}
{{- range $var, $value := dict "GITHUB_APP_ID" .Values.settings.githubAppId "GITHUB_APP_INSTALLATION_ID" .Values.settings.githubAppInstallationId }}
{{- if $value }}
- name: {{ $var }}
  value: {{ $value | quote }}
{{- end }}
{{- end }}
{{- end }}

{{- define "orgpulse.commonMounts" -}}
- name: config
  mountPath: /etc/orgpulse
  readOnly: true
- name: data
  mountPath: {{ include "orgpulse.dataDir" . }}
- name: tmp
  mountPath: /tmp
{{- if eq .Values.datadog.transport "uds" }}
- name: dsdsocket
  mountPath: /var/run/datadog
  readOnly: true
{{- end }}
{{- end }}

{{- define "orgpulse.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
capabilities:
  drop: [ALL]
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/* The pod's ServiceAccount token, CA and namespace, where the kubernetes client and the
     secret store look for them (receiver.kubernetes_token_file / kubernetes_ca_file). */}}
{{- define "orgpulse.apiAccessMount" -}}
- name: kube-api-access
  mountPath: /var/run/secrets/kubernetes.io/serviceaccount
  readOnly: true
{{- end }}

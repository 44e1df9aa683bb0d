{{- define "warden-agent.fullname" -}}
{{- printf "%s-warden-agent" .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "warden-agent.labels" -}}
app.kubernetes.io/name: warden-agent
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "warden-agent.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "warden-agent.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

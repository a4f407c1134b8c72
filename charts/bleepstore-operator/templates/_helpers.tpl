{{- define "bleepstore-operator.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "bleepstore-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "bleepstore-operator.labels" -}}
{{ include "bleepstore-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "bleepstore-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "bleepstore-operator.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The rules the operator needs wherever it manages resources: exactly the calls it makes
     (derived from the end-to-end suite's request log, checked by tests/chart). */}}
{{- define "bleepstore-operator.rules" -}}
- apiGroups: ["bleepstore.io"]
  resources: ["bleepstores", "buckets"]
  verbs: ["get", "list", "watch", "patch"]
- apiGroups: ["bleepstore.io"]
  resources: ["accesskeys"]
  verbs: ["list", "watch", "patch"]
- apiGroups: ["bleepstore.io"]
  resources: ["bleepstores/status", "buckets/status", "accesskeys/status"]
  verbs: ["patch"]
- apiGroups: ["apps"]
  resources: ["statefulsets"]
  verbs: ["get", "list", "watch", "create", "patch"]
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["get", "create", "patch"]
- apiGroups: [""]
  resources: ["configmaps", "services"]
  verbs: ["create", "patch"]
- apiGroups: [""]
  resources: ["persistentvolumeclaims"]
  verbs: ["get", "patch"]
- apiGroups: ["policy"]
  resources: ["poddisruptionbudgets"]
  verbs: ["get", "create", "patch", "delete"]
- apiGroups: ["events.k8s.io"]
  resources: ["events"]
  verbs: ["create"]
{{- end -}}

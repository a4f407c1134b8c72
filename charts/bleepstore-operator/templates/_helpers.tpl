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

{{/* An image reference: repository:tag (tag default: appVersion), with @digest when one is set. */}}
{{- define "bleepstore-operator.imageRef" -}}
{{- $ref := printf "%s:%s" .image.repository (.image.tag | default .chart.AppVersion) -}}
{{- if .image.digest -}}{{ printf "%s@%s" $ref .image.digest }}{{- else -}}{{ $ref }}{{- end -}}
{{- end -}}

{{- define "bleepstore-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "bleepstore-operator.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The rules the operator needs wherever it manages resources: exactly the calls it makes
     (from the API server's audit log of the end-to-end suite, checked by tests/chart), plus the
     finalizers rule an admission plugin checks. */}}
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
# The objects a store or a key owns carry blockOwnerDeletion; with the
# OwnerReferencesPermissionEnforcement admission plugin (on in OpenShift) setting it needs
# update on the owner's finalizers, or every create is refused.
- apiGroups: ["bleepstore.io"]
  resources: ["bleepstores/finalizers", "accesskeys/finalizers"]
  verbs: ["update"]
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
  # patch: a repeated event becomes a series (its count and last time) on the first one.
  verbs: ["create", "patch"]
{{- end -}}

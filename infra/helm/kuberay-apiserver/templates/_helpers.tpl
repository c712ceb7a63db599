{{/* Names, labels, the authentication mode's needs and the environment, shared by the templates. */}}

{{- define "kuberay-apiserver.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "kuberay-apiserver.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "kuberay-apiserver.selectorLabels" -}}
app.kubernetes.io/name: {{ include "kuberay-apiserver.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "kuberay-apiserver.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{ include "kuberay-apiserver.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/component: gateway
{{- end -}}

{{- define "kuberay-apiserver.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "kuberay-apiserver.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/*
Whether the mode impersonates (handler/auth/modes.py: token-review, oidc, client-certificate,
request-header): "true" or "".
*/}}
{{- define "kuberay-apiserver.impersonates" -}}
{{- if has .Values.settings.authentication (list "token-review" "oidc" "client-certificate" "request-header") -}}true{{- end -}}
{{- end -}}

{{/* The default accept_hosts: the Service's DNS names and the Ingress hosts, regex-escaped. */}}
{{- define "kuberay-apiserver.acceptHosts" -}}
{{- $svc := printf "%s(\\.%s(\\.svc(\\.cluster\\.local)?)?)?" (include "kuberay-apiserver.fullname" . | replace "." "\\.") (.Release.Namespace | replace "." "\\.") -}}
{{- $hosts := list $svc -}}
{{- range .Values.ingress.hosts -}}
{{- $hosts = append $hosts (. | replace "." "\\.") -}}
{{- end -}}
{{- if eq .Values.kind "knative" -}}
{{- $hosts = append $hosts (printf "%s\\.%s\\..*" (include "kuberay-apiserver.fullname" .) (.Release.Namespace | replace "." "\\.")) -}}
{{- end -}}
{{- join "|" $hosts -}}
{{- end -}}

{{/* The checks every template relies on (fail with a message naming the value). */}}
{{- define "kuberay-apiserver.validate" -}}
{{- $s := .Values.settings -}}
{{- if and (eq $s.authentication "none") (not $s.allow_unauthenticated) -}}
{{- fail "settings.authentication none serves everyone with the gateway's own rights: set settings.allow_unauthenticated true to mean it" -}}
{{- end -}}
{{- if and (eq .Values.kind "knative") (ge (int $s.max_watch_seconds) (int .Values.knative.timeoutSeconds)) -}}
{{- fail (printf "settings.max_watch_seconds (%v) must be below knative.timeoutSeconds (%v): watches must end before Knative cuts them" $s.max_watch_seconds .Values.knative.timeoutSeconds) -}}
{{- end -}}
{{- if and (eq .Values.kind "knative") (eq (int $s.max_watch_seconds) 0) -}}
{{- fail "settings.max_watch_seconds 0 (no cap) cannot run on Knative: its request timeout would cut watches" -}}
{{- end -}}
{{- if and (eq .Values.kind "deployment") (gt (add (int .Values.preStopSleepSeconds) (int (ceil $s.shutdown_grace_seconds))) (int .Values.terminationGracePeriodSeconds)) -}}
{{- fail "terminationGracePeriodSeconds must cover preStopSleepSeconds + settings.shutdown_grace_seconds" -}}
{{- end -}}
{{- end -}}

{{/* The container's environment: every non-null setting as KUBERAY_APISERVER_<NAME>. */}}
{{- define "kuberay-apiserver.env" -}}
- name: KUBERAY_APISERVER_HOST
  value: "0.0.0.0"
- name: KUBERAY_APISERVER_PORT
  value: "8888"
{{- if not .Values.settings.upstream }}
- name: KUBERAY_APISERVER_IN_CLUSTER
  value: "true"
{{- end }}
{{- /* Helm drops keys whose value is null, so an unset accept_hosts is an absent key. */}}
{{- if or (not (hasKey .Values.settings "accept_hosts")) (kindIs "invalid" .Values.settings.accept_hosts) }}
- name: KUBERAY_APISERVER_ACCEPT_HOSTS
  value: {{ include "kuberay-apiserver.acceptHosts" . | quote }}
{{- end }}
{{- range $name, $value := .Values.settings }}
{{- if not (kindIs "invalid" $value) }}
- name: KUBERAY_APISERVER_{{ upper $name }}
  value: {{ include "kuberay-apiserver.envValue" $value | quote }}
{{- end }}
{{- end }}
{{- with .Values.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* One setting's text: lists joined with ",", whole numbers without a decimal point or exponent. */}}
{{- define "kuberay-apiserver.envValue" -}}
{{- if kindIs "slice" . -}}
{{- $items := list -}}
{{- range . -}}
{{- $items = append $items (include "kuberay-apiserver.envValue" .) -}}
{{- end -}}
{{- join "," $items -}}
{{- else if and (kindIs "float64" .) (eq . (floor .)) -}}
{{- int64 . -}}
{{- else -}}
{{- toString . -}}
{{- end -}}
{{- end -}}

{{/* The gateway container, shared by the Deployment and the Knative Service. */}}
{{- define "kuberay-apiserver.container" -}}
name: gateway
image: "{{ .Values.image.repository }}:{{ .Values.image.tag }}"
imagePullPolicy: {{ .Values.image.pullPolicy }}
args: []
ports:
  - name: http
    containerPort: 8888
    protocol: TCP
env:
{{- include "kuberay-apiserver.env" . | nindent 2 }}
resources:
{{- toYaml .Values.resources | nindent 2 }}
securityContext:
{{- toYaml .Values.securityContext | nindent 2 }}
{{- end -}}

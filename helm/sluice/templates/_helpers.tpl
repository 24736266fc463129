{{/*
Names and labels shared by every template.
*/}}

{{- define "sluice.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
The release's fullname: the prefix of every object. "sluice" for a release named sluice, so the
objects get the names of the deployment contract (sluice-ingest, sluice-config, ...).
*/}}
{{- define "sluice.fullname" -}}
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

{{/*
The name of one component's object: <fullname>-<component>. Knative Service names become DNS
labels (<name>.<namespace>.svc...), so they must fit in 63 characters: fail rather than
truncate, since a truncated name would not match the URLs in the ConfigMap.
Call with (dict "root" $ "component" "ingest").
*/}}
{{- define "sluice.componentName" -}}
{{- $name := printf "%s-%s" (include "sluice.fullname" .root) .component -}}
{{- if gt (len $name) 63 -}}
{{- fail (printf "object name %q is longer than 63 characters: set fullnameOverride to something shorter" $name) -}}
{{- end -}}
{{- $name -}}
{{- end -}}

{{- define "sluice.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels that never change for the life of a release: Deployment selectors use these. */}}
{{- define "sluice.selectorLabels" -}}
app.kubernetes.io/name: {{ include "sluice.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* Every object's labels. Call with (dict "root" $ "component" "ingest"); component may be "". */}}
{{- define "sluice.labels" -}}
helm.sh/chart: {{ include "sluice.chart" .root }}
app.kubernetes.io/name: {{ include "sluice.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- with .component }}
app.kubernetes.io/component: {{ . }}
{{- end }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/part-of: sluice
{{- with .root.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "sluice.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "sluice.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* An image reference; the tag defaults to the chart's appVersion. Call with (dict "root" $ "image" .Values.x.image). */}}
{{- define "sluice.image" -}}
{{- printf "%s:%s" .image.repository (default .root.Chart.AppVersion .image.tag) -}}
{{- end -}}

{{- define "sluice.configMapName" -}}
{{- include "sluice.componentName" (dict "root" . "component" "config") -}}
{{- end -}}

{{- define "sluice.secretName" -}}
{{- include "sluice.componentName" (dict "root" . "component" "secrets") -}}
{{- end -}}

{{/*
The in-cluster URL of one of the chart's Knative Services (cluster-local or not, every ksvc
answers on <name>.<namespace>.svc.cluster.local). Call with (dict "root" $ "component" "transform").
*/}}
{{- define "sluice.ksvcUrl" -}}
{{- printf "http://%s.%s.svc.%s" (include "sluice.componentName" .) .root.Release.Namespace .root.Values.clusterDomain -}}
{{- end -}}

{{/* The container securityContext: the shared restricted settings plus the image's user. */}}
{{- define "sluice.containerSecurityContext" -}}
{{- $user := dict "runAsUser" .component.runAsUser "runAsGroup" .component.runAsGroup -}}
{{- toYaml (merge $user (deepCopy .root.Values.containerSecurityContext)) -}}
{{- end -}}

{{/*
The env list of a Sluice container, as YAML ("[]" when empty): the component's own variables
(.own, e.g. SLUICE_EMBEDDER__THREADS), the credentials, each read from the Secret that holds it (the
user's existingSecret or the chart's Secret made from inline values), then the global and the
component's extra variables. Only configured credentials appear: no container gets an empty
variable. Call with (dict "root" $ "component" .Values.ingest "own" (list ...)).
*/}}
{{- define "sluice.env" -}}
{{- $env := concat (default list .own) -}}
{{- range $ref := (include "sluice.secretRefs" .root | fromYamlArray) -}}
{{- $env = append $env (dict "name" $ref.env "valueFrom" (dict "secretKeyRef" (dict "name" $ref.secret "key" $ref.key))) -}}
{{- end -}}
{{- $env = concat $env (default list .root.Values.extraEnv) (default list .component.extraEnv) -}}
{{- toYaml $env -}}
{{- end -}}

{{/*
The credentials as a list of {env, secret, key}: only those that are configured, so no container
gets an empty variable.
*/}}
{{- define "sluice.secretRefs" -}}
{{- $chartSecret := include "sluice.secretName" . -}}
{{- $refs := list -}}
{{- with .Values.redis.auth -}}
{{- if .existingSecret -}}
{{- $refs = append $refs (dict "env" "SLUICE_REDIS__URL" "secret" .existingSecret "key" .urlKey) -}}
{{- else if .url -}}
{{- $refs = append $refs (dict "env" "SLUICE_REDIS__URL" "secret" $chartSecret "key" "redis-url") -}}
{{- end -}}
{{- end -}}
{{- with .Values.milvus.auth -}}
{{- if .existingSecret -}}
{{- $refs = append $refs (dict "env" "SLUICE_MILVUS__TOKEN" "secret" .existingSecret "key" .tokenKey) -}}
{{- else if .token -}}
{{- $refs = append $refs (dict "env" "SLUICE_MILVUS__TOKEN" "secret" $chartSecret "key" "milvus-token") -}}
{{- end -}}
{{- end -}}
{{- with .Values.auth -}}
{{- if .existingSecret -}}
{{- $refs = append $refs (dict "env" "SLUICE_AUTH__API_KEYS" "secret" .existingSecret "key" .apiKeysKey) -}}
{{- else if .apiKeys -}}
{{- $refs = append $refs (dict "env" "SLUICE_AUTH__API_KEYS" "secret" $chartSecret "key" "api-keys") -}}
{{- end -}}
{{- end -}}
{{- toYaml $refs -}}
{{- end -}}

{{/* envFrom of every Sluice container: the ConfigMap, then the global and the component's extras. */}}
{{- define "sluice.envFrom" -}}
- configMapRef:
    name: {{ include "sluice.configMapName" .root }}
{{- with .root.Values.extraEnvFrom }}
{{ toYaml . }}
{{- end }}
{{- with .component.extraEnvFrom }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/*
Pod annotations that roll the pods (or make a new Knative revision) when the configuration or
the chart's Secret changes, since env vars are read only at start.
*/}}
{{- define "sluice.configChecksums" -}}
checksum/config: {{ include (print .Template.BasePath "/configmap.yaml") . | sha256sum }}
checksum/secret: {{ include (print .Template.BasePath "/secret.yaml") . | sha256sum }}
{{- end -}}

{{/* The Secret holding the internal token: the user's, else the chart's `<fullname>-internal`. */}}
{{- define "sluice.internalSecretName" -}}
{{- if .Values.internal.existingSecret -}}
{{- .Values.internal.existingSecret -}}
{{- else -}}
{{- include "sluice.componentName" (dict "root" . "component" "internal") -}}
{{- end -}}
{{- end -}}

{{/* SLUICE_INTERNAL__TOKEN, read from its Secret, as a YAML EnvVar: given to the callers (the
workers, searchapi) and to the functions that require it (embed; transform and index when no
broker route delivers to them). */}}
{{- define "sluice.internalTokenEnv" -}}
{{- $key := ternary .Values.internal.tokenKey "internal-token" (ne .Values.internal.existingSecret "") -}}
{{- toYaml (dict "name" "SLUICE_INTERNAL__TOKEN" "valueFrom" (dict "secretKeyRef" (dict "name" (include "sluice.internalSecretName" .) "key" $key))) -}}
{{- end -}}

{{/* The Secret holding the models function's admin key: the user's, else the chart's `<fullname>-models`. */}}
{{- define "sluice.modelsSecretName" -}}
{{- if .Values.models.auth.existingSecret -}}
{{- .Values.models.auth.existingSecret -}}
{{- else -}}
{{- include "sluice.componentName" (dict "root" . "component" "models") -}}
{{- end -}}
{{- end -}}

{{/* SLUICE_MODELS__ADMIN_KEY, read from its Secret, as a YAML EnvVar: the models pod's only. */}}
{{- define "sluice.modelsAdminKeyEnv" -}}
{{- $key := ternary .Values.models.auth.adminKeyKey "admin-key" (ne .Values.models.auth.existingSecret "") -}}
{{- toYaml (dict "name" "SLUICE_MODELS__ADMIN_KEY" "valueFrom" (dict "secretKeyRef" (dict "name" (include "sluice.modelsSecretName" .) "key" $key))) -}}
{{- end -}}

{{/* The TCP port of a URL (Redis', Milvus'): its own, else `default`. Call with (dict "url" "redis://h:6379/0" "default" 6379). */}}
{{- define "sluice.urlPort" -}}
{{- $host := (urlParse .url).host -}}
{{- if regexMatch ":[0-9]+$" $host -}}
{{- regexFind "[0-9]+$" $host -}}
{{- else -}}
{{- .default -}}
{{- end -}}
{{- end -}}

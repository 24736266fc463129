{{/*
The routes as they apply in this release: the list of .Values.routing.transport in
files/routes.yaml, which `make manifests` generates from conf/routing.yaml with the Python
rule (sluice.settings.RoutingSettings.transport_of). The chart never decides a route's
transport itself, so the Triggers and workers rendered here and the routes the functions
follow (SLUICE_ROUTING__TRANSPORT in the ConfigMap) cannot disagree.
Returns a YAML list of {event, to, transport, retry: {attempts, backoff_seconds,
max_backoff_seconds}}; read it with fromYamlArray.
*/}}
{{- define "sluice.routes" -}}
{{- $file := .Files.Get "files/routes.yaml" | fromYaml -}}
{{- if or (hasKey $file "Error") (not (hasKey $file .Values.routing.transport)) -}}
{{- fail (printf "files/routes.yaml is missing or has no routes for routing.transport %q: run `make manifests` (it generates them from conf/routing.yaml)" .Values.routing.transport) -}}
{{- end -}}
{{- toYaml (default list (get $file .Values.routing.transport)) -}}
{{- end -}}

{{/* The `routing` section of files/routing.yaml, as YAML; fails when the copy is missing. */}}
{{- define "sluice.routingTable" -}}
{{- $file := .Files.Get "files/routing.yaml" | fromYaml -}}
{{- if or (hasKey $file "Error") (not (kindIs "map" (get $file "routing"))) -}}
{{- fail "files/routing.yaml is missing or not a routing table: run `make manifests` (it copies conf/routing.yaml into the chart)" -}}
{{- end -}}
{{- toYaml $file.routing -}}
{{- end -}}

{{/* The routing table's subscribers ({name: {url, queue, timeout_seconds}}), as YAML. */}}
{{- define "sluice.subscribers" -}}
{{- toYaml (default dict (include "sluice.routingTable" . | fromYaml).subscribers) -}}
{{- end -}}

{{/* "true" when some route goes through the Knative broker (then the Broker, Triggers, the
dead-letter Service and the broker URL of ingest are rendered), else "". */}}
{{- define "sluice.usesBroker" -}}
{{- range (include "sluice.routes" . | fromYamlArray) -}}
{{- if eq .transport "broker" }}true{{ break }}{{ end -}}
{{- end -}}
{{- end -}}

{{/* The RQ queues the delivery workers serve: those of the subscribers of the RQ routes,
sorted, as a YAML list. Empty when every route goes through the broker (no workers then). */}}
{{- define "sluice.workerQueues" -}}
{{- $subscribers := include "sluice.subscribers" . | fromYaml -}}
{{- $queues := list -}}
{{- range (include "sluice.routes" . | fromYamlArray) -}}
{{- if eq .transport "rq" -}}
{{- $subscriber := get $subscribers .to -}}
{{- if not $subscriber -}}
{{- fail (printf "files/routing.yaml: route %s names subscriber %q, which is not under routing.subscribers" .event .to) -}}
{{- end -}}
{{- $queues = append $queues $subscriber.queue -}}
{{- end -}}
{{- end -}}
{{- toYaml ($queues | uniq | sortAlpha) -}}
{{- end -}}

{{/* The longest job timeout among the worker queues' subscribers, in whole seconds. */}}
{{- define "sluice.workerJobTimeout" -}}
{{- $subscribers := include "sluice.subscribers" . | fromYaml -}}
{{- $queues := include "sluice.workerQueues" . | fromYamlArray -}}
{{- $longest := 0 -}}
{{- range $name, $subscriber := $subscribers -}}
{{- if has $subscriber.queue $queues -}}
{{- $longest = max $longest (ceil (default 60 $subscriber.timeout_seconds)) -}}
{{- end -}}
{{- end -}}
{{- $longest | int -}}
{{- end -}}

{{/* The broker's name and the address publishers post to. */}}
{{- define "sluice.brokerName" -}}
{{- default (include "sluice.fullname" .) .Values.broker.name -}}
{{- end -}}

{{- define "sluice.brokerUrl" -}}
{{- if .Values.broker.url -}}
{{- .Values.broker.url -}}
{{- else -}}
{{- printf "http://broker-ingress.knative-eventing.svc.%s/%s/%s" .Values.clusterDomain .Release.Namespace (include "sluice.brokerName" .) -}}
{{- end -}}
{{- end -}}

{{/* A Trigger's name: <fullname>-<last two segments of the event type>-to-<subscriber>,
e.g. sluice-document-embedded-to-index. */}}
{{- define "sluice.triggerName" -}}
{{- $segments := splitList "." .route.event -}}
{{- $n := len $segments -}}
{{- $short := join "-" (slice $segments (max 0 (sub $n 2) | int) $n) -}}
{{- include "sluice.componentName" (dict "root" .root "component" (printf "%s-to-%s" $short .route.to)) -}}
{{- end -}}

{{/* Seconds as an ISO-8601 duration (Knative's backoffDelay), e.g. 1 -> PT1S, 0.5 -> PT0.5S. */}}
{{- define "sluice.isoSeconds" -}}
{{- printf "PT%vS" . -}}
{{- end -}}

{{/* The subscribers some route of this release delivers to through the broker, with the
dead-letter sink, sorted, as a YAML list: their requests carry no internal token (Knative
Eventing adds no headers), so they do not require one. */}}
{{- define "sluice.brokerSubscribers" -}}
{{- $names := list "dead-letter" -}}
{{- range (include "sluice.routes" . | fromYamlArray) -}}
{{- if eq .transport "broker" }}{{ $names = append $names .to }}{{ end -}}
{{- end -}}
{{- toYaml ($names | uniq | sortAlpha) -}}
{{- end -}}

{{/*
The routing table (files/routing.yaml, a byte copy of conf/routing.yaml kept by
`make manifests`) with each route's transport as it applies in this release: the route's own
when routing.transport is per-route, else routing.transport for every route. This is the rule
the Python side applies (sluice.settings.RoutingSettings), so the Triggers rendered here and the
routes the functions follow cannot disagree.
Returns a YAML list of {event, to, transport, retry}; read it with fromYamlArray.
*/}}
{{- define "sluice.routes" -}}
{{- $table := include "sluice.routingTable" . | fromYaml -}}
{{- $override := .Values.routing.transport -}}
{{- $routes := list -}}
{{- range $route := $table.routes -}}
{{- $transport := default "rq" $route.transport -}}
{{- if ne $override "per-route" -}}
{{- $transport = $override -}}
{{- end -}}
{{- $routes = append $routes (dict "event" $route.event "to" $route.to "transport" $transport "retry" (default dict $route.retry)) -}}
{{- end -}}
{{- toYaml $routes -}}
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

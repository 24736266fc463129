"""Offline checks of the Helm chart that helm itself does not make (run by check_helm.sh).

helm_checks.py params VALUES_YAML        every key documented with `## @param`, and back
helm_checks.py rendered RENDERED CHART   the rendered sets: names, env, labels, selectors,
                                         per values set the objects that must (not) be, and
                                         Triggers and worker queues that are exactly those of
                                         files/routes.yaml for the set's routing.transport
"""

from __future__ import annotations

import argparse
import collections
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

# Per values set (ci/<name>-values.yaml): kinds that must be present / absent.
EXPECT: dict[str, tuple[set[str], set[str]]] = {
    "default": (
        {"Broker", "Trigger", "SinkBinding", "ScaledObject", "Deployment", "NetworkPolicy"},
        {"PodMonitor", "ServiceMonitor", "PrometheusRule"},
    ),
    "rq-only": (
        {"Deployment"},
        {
            "Broker",
            "Trigger",
            "SinkBinding",
            "ScaledObject",
            "TriggerAuthentication",
            "NetworkPolicy",
            "Secret",
        },
    ),
    "broker": ({"Trigger"}, {"Broker", "ScaledObject", "SinkBinding", "TriggerAuthentication"}),
    "full": (
        {
            "PodMonitor",
            "ServiceMonitor",
            "ScaledObject",
            "TriggerAuthentication",
            "Trigger",
            "SinkBinding",
            "PrometheusRule",
        },
        {"Secret"},
    ),
    "inline-secrets": ({"Secret", "TriggerAuthentication"}, set()),
}
REQUIRED_LABELS = (
    "app.kubernetes.io/name",
    "app.kubernetes.io/instance",
    "app.kubernetes.io/managed-by",
    "helm.sh/chart",
)


def check_params(values_file: Path) -> list[str]:
    """Every key of values.yaml has a `## @param` line, and every such line names a key."""
    text = values_file.read_text(encoding="utf-8")
    params = set(re.findall(r"^\s*## @param (\S+)", text, flags=re.M))

    def leaves(node: dict[str, Any], prefix: str = "") -> Iterator[str]:
        # A documented key is a leaf, or a mapping documented as a whole (e.g. resources).
        for key, value in node.items():
            name = f"{prefix}{key}"
            if isinstance(value, dict) and value and name not in params:
                yield from leaves(value, name + ".")
            else:
                yield name

    keys = set(leaves(yaml.safe_load(text)))
    return [
        *(f"{values_file}: {n} has no '## @param {n} ...' line" for n in sorted(keys - params)),
        *(f"{values_file}: '## @param {n}' names no key" for n in sorted(params - keys)),
    ]


def check_rendered(rendered: Path, chart: Path) -> list[str]:
    """Problems in the rendered values sets (helm-<name>.yaml)."""
    expect = {name: (set(must), set(must_not)) for name, (must, must_not) in EXPECT.items()}
    routes = yaml.safe_load((chart / "files/routes.yaml").read_text(encoding="utf-8"))
    table = yaml.safe_load((chart / "files/routing.yaml").read_text(encoding="utf-8"))["routing"]
    problems: list[str] = []
    files = sorted(rendered.glob("helm-*.yaml"))
    if not files:
        return [f"nothing rendered in {rendered}"]
    for path in files:
        name = path.stem.removeprefix("helm-")
        docs = [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]
        kinds = {d["kind"] for d in docs}
        must, must_not = expect.get(name, (set(), set()))
        problems += [f"{path.name}: no {k} rendered" for k in sorted(must - kinds)]
        problems += [f"{path.name}: {k} rendered" for k in sorted(must_not & kinds)]
        problems += _duplicates(path.name, docs)
        for doc in docs:
            problems += _object_problems(
                f"{path.name}: {doc['kind']} {doc['metadata']['name']}", doc
            )
        problems += _routing_problems(path.name, docs, routes, table["subscribers"])
        problems += _internal_token_problems(path.name, docs, routes)
        problems += _models_problems(path.name, docs)
        if name == "full":
            problems += _observability_problems(path.name, docs, chart)
        print(f"  {path.name}: {len(docs)} objects ({', '.join(sorted(kinds))})")
    return problems


def _duplicates(file: str, docs: list[dict[str, Any]]) -> list[str]:
    seen = collections.Counter((d["kind"], d["metadata"]["name"]) for d in docs)
    return [f"{file}: {k} {n} rendered {c} times" for (k, n), c in seen.items() if c > 1]


def _object_problems(what: str, doc: dict[str, Any]) -> list[str]:
    """Labels, Deployment selectors, env of one object."""
    labels = doc["metadata"].get("labels", {})
    problems = [f"{what}: no label {key}" for key in REQUIRED_LABELS if key not in labels]
    spec = doc.get("spec", {})
    template = spec.get("template", {}) if isinstance(spec, dict) else {}
    if doc["kind"] == "Deployment":
        selector = spec["selector"]["matchLabels"]
        pod_labels = template["metadata"]["labels"]
        if any(pod_labels.get(k) != v for k, v in selector.items()):
            problems.append(f"{what}: selector {selector} does not match its pods")
    pod = template.get("spec") if template else (spec if doc["kind"] == "Pod" else None)
    for container in (pod or {}).get("containers", []):
        env = container.get("env", [])
        counts = collections.Counter(e["name"] for e in env)
        problems += [f"{what}: env {n} set twice" for n, k in counts.items() if k > 1]
        problems += [
            f"{what}: env {e['name']} is empty"
            for e in env
            if not e.get("value") and "valueFrom" not in e
        ]
    if doc["kind"] == "ConfigMap" and doc["metadata"]["name"].endswith("-config"):
        problems += [f"{what}: key {k} is empty" for k, v in doc["data"].items() if not v]
    return problems


def _routing_problems(
    file: str,
    docs: list[dict[str, Any]],
    routes: dict[str, list[dict[str, Any]]],
    subscribers: dict[str, dict[str, Any]],
) -> list[str]:
    """The Triggers and the workers' queues are those of files/routes.yaml (generated by the
    Python rule) for the transport the ConfigMap gives the services: the chart decides nothing."""
    [config] = [
        d
        for d in docs
        if d["kind"] == "ConfigMap" and "SLUICE_ROUTING__TRANSPORT" in d.get("data", {})
    ]
    transport = config["data"]["SLUICE_ROUTING__TRANSPORT"]
    fullname = config["metadata"]["name"].removesuffix("-config")
    listed = routes.get(transport)
    if listed is None:
        return [f"{file}: files/routes.yaml has no routes for routing.transport {transport}"]
    problems = []

    def service(to: str) -> str:
        return f"{fullname}-{to}"

    wanted = {
        (r["event"], service(r["to"])): r["retry"] for r in listed if r["transport"] == "broker"
    }
    rendered = {
        (d["spec"]["filter"]["attributes"]["type"], d["spec"]["subscriber"]["ref"]["name"]): d
        for d in docs
        if d["kind"] == "Trigger"
    }
    if set(rendered) != set(wanted):
        problems.append(
            f"{file}: Triggers {sorted(rendered)} but routes.yaml[{transport}] has broker routes "
            f"{sorted(wanted)}"
        )
    for edge in set(rendered) & set(wanted):
        retry, delivery = wanted[edge], rendered[edge]["spec"]["delivery"]
        if delivery.get("retry", 0) != retry["attempts"] - 1:
            problems.append(
                f"{file}: Trigger {edge}: retry {delivery.get('retry')}, not attempts-1"
            )
        if retry["attempts"] > 1:
            delay = float(str(delivery.get("backoffDelay", "")).removeprefix("PT").rstrip("S"))
            if delay != retry["backoff_seconds"]:
                problems.append(f"{file}: Trigger {edge}: backoffDelay {delay} s")

    queues = sorted({subscribers[r["to"]]["queue"] for r in listed if r["transport"] == "rq"})
    workers = [
        d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == service("worker")
    ]
    served: list[str] = []
    for worker in workers:
        args = worker["spec"]["template"]["spec"]["containers"][0]["args"]
        served += [args[i + 1] for i, arg in enumerate(args[:-1]) if arg == "--queue"]
    if served != queues:
        problems.append(f"{file}: workers serve {served}, routes.yaml[{transport}] needs {queues}")
    return problems


def _internal_token_problems(
    file: str, docs: list[dict[str, Any]], routes: dict[str, list[dict[str, Any]]]
) -> list[str]:
    """SLUICE_INTERNAL__TOKEN goes to its callers (workers, searchapi) and to the functions that
    require it: embed, and transform and index unless a broker route delivers to them."""
    [config] = [
        d
        for d in docs
        if d["kind"] == "ConfigMap" and "SLUICE_ROUTING__TRANSPORT" in d.get("data", {})
    ]
    fullname = config["metadata"]["name"].removesuffix("-config")
    listed = routes[config["data"]["SLUICE_ROUTING__TRANSPORT"]]
    by_broker = {r["to"] for r in listed if r["transport"] == "broker"} | {"dead-letter"}
    problems = []
    for doc in docs:
        if doc["kind"] not in ("Service", "Deployment") or "template" not in doc["spec"]:
            continue
        component = doc["metadata"]["name"].removeprefix(f"{fullname}-")
        wanted = component in ("worker", "searchapi", "embed") or (
            component in ("transform", "index") and component not in by_broker
        )
        containers = doc["spec"]["template"]["spec"]["containers"]
        has = any(e["name"] == "SLUICE_INTERNAL__TOKEN" for e in containers[0].get("env", []))
        if has != wanted:
            problems.append(
                f"{file}: {component} {'lacks' if wanted else 'gets'} SLUICE_INTERNAL__TOKEN"
            )
    return problems


def _models_problems(file: str, docs: list[dict[str, Any]]) -> list[str]:
    """The models function: one replica replaced (Recreate), never a Knative Service; the admin
    key from a Secret, in its pod only; a NetworkPolicy of its own wherever the chart renders
    NetworkPolicies, admitting no pod of the release; a ServiceMonitor (job sluice-models)
    wherever the chart renders ServiceMonitors."""
    workloads = [
        d for d in docs if d["kind"] in ("Service", "Deployment") and "template" in d["spec"]
    ]
    models = [
        d
        for d in workloads
        if d["metadata"]["labels"].get("app.kubernetes.io/component") == "models"
    ]
    if not models:
        return []
    problems = []
    [deployment] = models
    name = deployment["metadata"]["name"]
    if deployment["kind"] != "Deployment" or deployment["spec"].get("replicas") != 1:
        problems.append(f"{file}: {name} is not a Deployment of one replica")
    if deployment["spec"].get("strategy", {}).get("type") != "Recreate":
        problems.append(f"{file}: {name} is not replaced with strategy Recreate")
    for doc in workloads:
        env = doc["spec"]["template"]["spec"]["containers"][0].get("env", [])
        keys = [e for e in env if e["name"] == "SLUICE_MODELS__ADMIN_KEY"]
        if doc is deployment and not (keys and "secretKeyRef" in keys[0].get("valueFrom", {})):
            problems.append(f"{file}: {name} gets no SLUICE_MODELS__ADMIN_KEY from a Secret")
        if doc is not deployment and keys:
            problems.append(f"{file}: {doc['metadata']['name']} gets the admin key")
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    policies = [d for d in docs if d["kind"] == "NetworkPolicy"]
    own = [
        d
        for d in policies
        if d["spec"]["podSelector"].get("matchLabels", {}).items() <= pod_labels.items()
        and d["spec"]["podSelector"].get("matchLabels")
    ]
    if policies and len(own) != 1:
        problems.append(f"{file}: {len(own)} NetworkPolicies select {name}, not 1")
    for policy in own:
        peers = [peer for rule in policy["spec"].get("ingress", []) for peer in rule["from"]]
        if any("podSelector" in peer for peer in peers):
            problems.append(f"{file}: {policy['metadata']['name']} admits pods of the release")
        if "Egress" not in policy["spec"]["policyTypes"]:
            problems.append(f"{file}: {policy['metadata']['name']} leaves egress open")
    monitors = [d for d in docs if d["kind"] == "ServiceMonitor"]
    jobs = [
        r.get("replacement")
        for m in monitors
        for e in m["spec"]["endpoints"]
        for r in e.get("relabelings", [])
        if r.get("targetLabel") == "job"
    ]
    if monitors and "sluice-models" not in jobs:
        problems.append(f"{file}: no ServiceMonitor scrapes {name} as job sluice-models")
    return problems


def _observability_problems(file: str, docs: list[dict[str, Any]], chart: Path) -> list[str]:
    """One dashboard ConfigMap per dashboard, one Alloy ConfigMap if its source exists."""
    dashboards = len(list(chart.glob("files/dashboards/*.json")))
    alloy = int((chart / "files/alloy/kubernetes.alloy").is_file())
    components = collections.Counter(
        d["metadata"]["labels"].get("app.kubernetes.io/component")
        for d in docs
        if d["kind"] == "ConfigMap"
    )
    problems = []
    if components["dashboards"] != dashboards:
        problems.append(
            f"{file}: {components['dashboards']} dashboard ConfigMaps for {dashboards} dashboards"
        )
    if components["alloy"] != alloy:
        problems.append(
            f"{file}: Alloy ConfigMap rendered {components['alloy']} times (source: {alloy})"
        )
    return problems


def main() -> int:
    """Run one check; print the problems; exit 1 if there are any."""
    parser = argparse.ArgumentParser(description=__doc__)
    checks = parser.add_subparsers(dest="check", required=True)
    checks.add_parser("params").add_argument("values", type=Path)
    rendered = checks.add_parser("rendered")
    rendered.add_argument("rendered", type=Path)
    rendered.add_argument("chart", type=Path)
    args = parser.parse_args()
    if args.check == "params":
        problems = check_params(args.values)
    else:
        problems = check_rendered(args.rendered, args.chart)
    for problem in problems:
        print(f"  {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

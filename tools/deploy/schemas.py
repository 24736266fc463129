"""Build the offline, strict JSON Schemas kubeconform validates Sluice's manifests against.

Two sources, written into two folders (one kubeconform `-schema-location` each):

- `k8s/`: the Kubernetes API schemas shipped by the PyPI package `kubernetes-validate`. Its
  files `$ref` a shared `_definitions.json` that kubeconform cannot resolve, so each file is made
  standalone: the definitions it reaches are copied into its `$defs`. Named as kubeconform's
  `{{ .ResourceKind }}{{ .KindSuffix }}.json` (e.g. `deployment-apps-v1.json`).
- `crds/`: the `openAPIV3Schema` of the CRDs Sluice uses (Knative Serving and Eventing, KEDA,
  the Prometheus operator), read from their Go modules (`go mod download -json`), named
  `{{ .ResourceKind }}-{{ .Group }}-{{ .ResourceAPIVersion }}.json`.

Every schema rejects unknown fields: `additionalProperties: false` wherever an object schema lists
`properties` and neither allows extra keys itself nor carries
`x-kubernetes-preserve-unknown-fields` (which is how the API server prunes and rejects them).
The output folder is named after a hash of the inputs, so it is rebuilt only when they change.

    python tools/deploy/schemas.py --cache .sluice/schemas    # prints the schema folder
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

KUBERNETES_VERSION = "1.34.0"  # knative.dev/pkg at serving v0.50.0 requires Kubernetes >= 1.34
DRAFT = "https://json-schema.org/draft/2020-12/schema"

# Go module -> CRD files (globs inside the module) whose schemas are needed.
CRD_MODULES: dict[str, list[str]] = {
    "knative.dev/serving@v0.50.0": ["config/core/300-resources/*.yaml"],
    "knative.dev/eventing@v0.49.2": ["config/core/resources/*.yaml"],
    "github.com/kedacore/keda/v2@v2.21.0": ["config/crd/bases/keda.sh_*.yaml"],
    "github.com/prometheus-operator/prometheus-operator@v0.85.0": [
        "example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml",
        "example/prometheus-operator-crd/monitoring.coreos.com_podmonitors.yaml",
        "example/prometheus-operator-crd/monitoring.coreos.com_prometheusrules.yaml",
    ],
}

OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
DEFINITIONS_REF = re.compile(r"^/api/_definitions\.json#/\$defs/")


SCHEMA_MAPS = ("properties", "patternProperties", "$defs", "definitions")  # name -> schema
SCHEMA_LISTS = ("allOf", "anyOf", "oneOf", "prefixItems")
SCHEMA_VALUES = ("items", "additionalProperties", "not", "contains")


def strict(schema: Any) -> Any:
    """A copy of `schema` in which every object schema with properties is closed.

    Walks schema positions only, so values such as `default` or `enum` are never rewritten.
    """
    if not isinstance(schema, dict):
        return schema  # `true`/`false` schemas
    out = dict(schema)
    for key in SCHEMA_MAPS:
        if isinstance(out.get(key), dict):
            out[key] = {name: strict(sub) for name, sub in out[key].items()}
    for key in SCHEMA_LISTS:
        if isinstance(out.get(key), list):
            out[key] = [strict(sub) for sub in out[key]]
    for key in SCHEMA_VALUES:
        if key in out:
            out[key] = strict(out[key])
    if (
        "properties" in out
        and "additionalProperties" not in out
        and not out.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    if out.get("nullable") is True and isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]  # OpenAPI's `nullable` is not JSON Schema
    return out


def refs(node: Any) -> Iterator[str]:
    """Every `$ref` value inside `node`."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from refs(item)


def local_refs(node: Any) -> Any:
    """`node` with `/api/_definitions.json#/$defs/X` references rewritten to `#/$defs/X`."""
    if isinstance(node, dict):
        return {
            key: DEFINITIONS_REF.sub("#/$defs/", value)
            if key == "$ref" and isinstance(value, str)
            else local_refs(value)
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [local_refs(item) for item in node]
    return node


def standalone(schema: dict[str, Any], definitions: dict[str, Any]) -> dict[str, Any]:
    """`schema` with the definitions it reaches (transitively) embedded as `$defs`."""
    schema = local_refs(schema)
    needed: dict[str, Any] = {}
    pending = list(refs(schema))
    while pending:
        name = pending.pop().removeprefix("#/$defs/")
        if name in needed:
            continue
        needed[name] = definitions[name]
        pending.extend(refs(needed[name]))
    schema = dict(schema)
    schema.pop("$id", None)  # the package's ids point at kubernetes.io URLs that do not exist
    schema["$schema"] = DRAFT
    if needed:
        schema["$defs"] = {name: needed[name] for name in sorted(needed)}
    closed: dict[str, Any] = strict(schema)
    return closed


def kubernetes_source() -> Path:
    """The package's strict schema folder for KUBERNETES_VERSION."""
    # Imported here so that the pure helpers above import without the package.
    import kubernetes_validate

    base = Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema"
    folder = base / f"v{KUBERNETES_VERSION}-local-strict"
    if not folder.is_dir():
        raise SystemExit(f"schemas: kubernetes-validate has no schemas for {KUBERNETES_VERSION}")
    return folder


def kubernetes_definitions() -> dict[str, Any]:
    """The shared definitions every Kubernetes schema of the package refers to."""
    definitions: dict[str, Any] = json.loads(
        (kubernetes_source() / "_definitions.json").read_text()
    )["$defs"]
    return definitions


def build_kubernetes(out: Path) -> int:
    """Write the standalone Kubernetes schemas into `out`; return how many."""
    source = kubernetes_source()
    definitions = kubernetes_definitions()
    out.mkdir(parents=True)
    count = 0
    for path in sorted(source.glob("*.json")):
        if path.name in ("_definitions.json", "all.json"):
            continue
        schema = standalone(json.loads(path.read_text()), definitions)
        (out / path.name).write_text(json.dumps(schema, separators=(",", ":")))
        count += 1
    return count


def module_dir(module: str) -> Path:
    """The module's folder in the Go module cache, downloaded if needed."""
    # Outside any module (an empty working directory, no go.work): the download is then the
    # module itself, not a dependency resolution of whatever go.mod is nearby.
    with tempfile.TemporaryDirectory() as empty:
        result = subprocess.run(
            ["go", "mod", "download", "-json", module],
            capture_output=True,
            text=True,
            check=False,
            cwd=empty,
            env={**os.environ, "GOWORK": "off", "GOFLAGS": "-mod=mod"},
        )
    info = json.loads(result.stdout or "{}")
    if result.returncode != 0 or "Dir" not in info:
        raise SystemExit(f"schemas: go mod download {module}: {info.get('Error') or result.stderr}")
    return Path(info["Dir"])


def with_object_meta(schema: dict[str, Any], definitions: dict[str, Any]) -> dict[str, Any]:
    """`schema` with the root fields every object has, as the API server checks them.

    Some CRDs (Knative Eventing's) do not declare apiVersion, kind and metadata, which the API
    server adds to every CRD; metadata is validated as Kubernetes' ObjectMeta whatever a CRD says.
    """
    meta = standalone({"$ref": f"#/$defs/{OBJECT_META}"}, definitions)
    schema = dict(schema)
    schema["properties"] = {
        **schema.get("properties", {}),
        "apiVersion": {"type": "string"},
        "kind": {"type": "string"},
        "metadata": {"$ref": f"#/$defs/{OBJECT_META}"},
    }
    schema["$defs"] = meta["$defs"]
    return schema


def crd_schemas(path: Path, definitions: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(file name, JSON Schema) for every served version of every CRD in `path`."""
    for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
        if not doc or doc.get("kind") != "CustomResourceDefinition":
            continue
        spec = doc["spec"]
        kind, group = spec["names"]["kind"].lower(), spec["group"]
        for version in spec["versions"]:
            openapi = (version.get("schema") or {}).get("openAPIV3Schema")
            if openapi is None:
                raise SystemExit(f"schemas: {path}: {kind} {version['name']} has no schema")
            schema = strict(with_object_meta(openapi, definitions))
            schema["$schema"] = DRAFT
            yield f"{kind}-{group}-{version['name']}.json", schema


def build_crds(out: Path) -> int:
    """Write the CRD schemas into `out`; return how many."""
    definitions = kubernetes_definitions()
    out.mkdir(parents=True)
    count = 0
    for module, patterns in CRD_MODULES.items():
        root = module_dir(module)
        files = sorted({p for pattern in patterns for p in root.glob(pattern)})
        if not files:
            raise SystemExit(f"schemas: {module}: no file matches {patterns}")
        for path in files:
            for name, schema in crd_schemas(path, definitions):
                (out / name).write_text(json.dumps(schema, separators=(",", ":")))
                count += 1
    return count


def inputs_hash() -> str:
    """A hash of everything the schemas are built from (this file and the versions it names)."""
    digest = hashlib.sha256(Path(__file__).read_bytes())
    digest.update(kubernetes_source().joinpath("_definitions.json").read_bytes())
    return digest.hexdigest()[:16]


def main(argv: list[str] | None = None) -> int:
    """Build the schema folder under --cache unless it exists; print its path."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, required=True, help="folder holding built schemas")
    args = parser.parse_args(argv)
    target = args.cache.resolve() / inputs_hash()
    if not (target / ".complete").exists():
        shutil.rmtree(target, ignore_errors=True)
        for stale in args.cache.glob("*") if args.cache.is_dir() else []:
            shutil.rmtree(stale, ignore_errors=True)  # older builds: inputs changed
        k8s = build_kubernetes(target / "k8s")
        crds = build_crds(target / "crds")
        (target / ".complete").write_text("")
        print(f"schemas: built {k8s} Kubernetes and {crds} CRD schemas", file=sys.stderr)
    print(target)
    return 0


if __name__ == "__main__":
    sys.exit(main())

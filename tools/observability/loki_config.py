"""Offline check of the Loki config: valid YAML, and every key one that our Loki version knows.

There is no offline validator for Loki (the binary cannot be built here), and Loki itself only
rejects unknown keys at start-up. The known keys come from Loki's own configuration reference
(docs/sources/shared/configuration.md at the release tag of the image compose.yaml runs):

    # when Loki is upgraded, from a checkout of grafana/loki at the new tag:
    python tools/observability/loki_config.py generate --tag v3.7.6 \
        --doc <loki>/docs/sources/shared/configuration.md > tools/observability/loki-keys.json
    python tools/observability/loki_config.py check conf/observability/loki/loki.yaml

`generate` keeps every top-level key name but only the subtrees of the sections loki.yaml uses,
so a new section in loki.yaml needs a regeneration (the check says so).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
KEYS = HERE / "loki-keys.json"
CONFIG = HERE.parents[1] / "conf" / "observability" / "loki" / "loki.yaml"

Tree = dict[str, Any]  # key -> None (a value), a Tree (a block), or [Tree] (a list of blocks)
LEAF = re.compile(r"^\[(\w+): <([^>]+)>")
BLOCK = re.compile(r"^(\w+):\s*$")


def _yaml_blocks(markdown: str) -> dict[str, list[str]]:
    """`### name` sections of the reference, each with the lines of its ```yaml block."""
    sections: dict[str, list[str]] = {}
    name, inside = "", False
    for line in markdown.splitlines():
        if line.startswith("### "):
            name = line[4:].strip().strip("`")
            name = "root" if name.startswith("Supported contents") else name
        elif line.startswith("```yaml"):
            inside, sections[name] = True, []
        elif line.startswith("```"):
            inside = False
        elif inside and line.strip() and not line.lstrip().startswith("#"):
            sections[name].append(line)
    return sections


def _parse(lines: list[str], sections: dict[str, list[str]], depth: int = 0) -> Tree:
    """Turn indented reference lines into a tree; `<section>` types are expanded in place."""
    tree: Tree = {}
    stack: list[tuple[int, Tree]] = [(-1, tree)]
    for line in lines:
        indent = len(line) - len(line.lstrip())
        text = line.strip()
        while stack[-1][0] >= indent:
            stack.pop()
        parent = stack[-1][1]
        if leaf := LEAF.match(text):
            key, kind = leaf.groups()
            ref = (
                kind.removeprefix("list of ").removesuffix("s")
                if kind.startswith("list of ")
                else kind
            )
            if ref in sections and ref not in ("root",) and depth < 8:
                sub = _parse(sections[ref], sections, depth + 1)
                parent[key] = [sub] if kind.startswith("list of ") else sub
            else:
                parent[key] = None
        elif block := BLOCK.match(text):
            child: Tree = {}
            parent[block.group(1)] = child
            stack.append((indent, child))
    return tree


def generate(doc: Path, tag: str, config: Path) -> dict[str, Any]:
    """Known keys: all top-level names, full subtrees of the sections `config` uses."""
    sections = _yaml_blocks(doc.read_text())
    root = _parse(sections["root"], sections)
    used = set(yaml.safe_load(config.read_text()) or {})
    return {
        "source": f"grafana/loki {tag} docs/sources/shared/configuration.md",
        "top_level": sorted(root),
        "sections": {key: root[key] for key in sorted(used) if key in root},
    }


def _unknown(value: Any, known: Any, path: str) -> list[str]:
    if known is None or not isinstance(value, dict | list):
        return []  # a scalar (or a free-form value such as a map of overrides)
    if isinstance(known, list):
        items = value if isinstance(value, list) else [value]
        return [
            err for i, item in enumerate(items) for err in _unknown(item, known[0], f"{path}[{i}]")
        ]
    if not isinstance(value, dict):
        return [f"{path}: expected a mapping"]
    errors = []
    for key, item in value.items():
        if key not in known:
            errors.append(f"{path}.{key}: unknown key")
        else:
            errors.extend(_unknown(item, known[key], f"{path}.{key}"))
    return errors


def check(config: Path, keys: dict[str, Any]) -> list[str]:
    """Problems found in `config`: unknown keys at any depth, missing must-haves."""
    document = yaml.safe_load(config.read_text())
    if not isinstance(document, dict):
        return [f"{config}: not a YAML mapping"]
    errors = [f"{key}: unknown top-level key" for key in document if key not in keys["top_level"]]
    for key, value in document.items():
        if key in keys["top_level"] and key not in keys["sections"]:
            errors.append(f"{key}: section not in {KEYS.name}; regenerate it (see --help)")
        elif key in keys["sections"]:
            errors.extend(_unknown(value, keys["sections"][key], key))
    # What this single-binary setup relies on (structured metadata needs the v13 tsdb schema).
    schemas = [c.get("schema") for c in (document.get("schema_config") or {}).get("configs", [])]
    if not schemas or schemas[-1] != "v13":
        errors.append("schema_config.configs: the newest period must use schema v13")
    limits = document.get("limits_config") or {}
    if limits.get("allow_structured_metadata") is not True:
        errors.append("limits_config.allow_structured_metadata must be true")
    if not limits.get("retention_period") or not (document.get("compactor") or {}).get(
        "retention_enabled"
    ):
        errors.append(
            "retention needs limits_config.retention_period and compactor.retention_enabled"
        )
    return errors


def main() -> int:
    """`generate` the known keys from Loki's reference, or `check` a config against them."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    gen = sub.add_parser("generate")
    gen.add_argument("--doc", type=Path, required=True)
    gen.add_argument("--tag", required=True)
    gen.add_argument("--config", type=Path, default=CONFIG)
    chk = sub.add_parser("check")
    chk.add_argument("config", type=Path, nargs="?", default=CONFIG)
    args = parser.parse_args()
    if args.command == "generate":
        json.dump(generate(args.doc, args.tag, args.config), sys.stdout, indent=1, sort_keys=True)
        print()
        return 0
    try:
        errors = check(args.config, json.loads(KEYS.read_text()))
    except yaml.YAMLError as exc:
        errors = [f"invalid YAML: {exc}"]
    for error in errors:
        print(f"{args.config}: {error}", file=sys.stderr)
    if not errors:
        print(f"{args.config}: valid for Loki ({json.loads(KEYS.read_text())['source']})")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())

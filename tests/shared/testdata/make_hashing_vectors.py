"""Writes hashing_vectors.json: test vectors for the hashing embedder (and its Go port).

Run from the repository root:  uv run --frozen python tests/shared/testdata/make_hashing_vectors.py

Each case holds an input text, a dimension, the tokens and the expected vector. A vector is
stored as one hex string: its components in order, each the IEEE 754 binary32 bit pattern,
big-endian, 8 lower-case hex digits (so component i is hex[8*i : 8*i+8]). This round-trips
exactly; decode with bytes.fromhex + struct ">f" (Python) or hex.DecodeString +
binary.BigEndian.Uint32 + math.Float32frombits (Go).
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

from sluice.embedders.hashing import HashingEmbedder, tokenize

OUTPUT = Path(__file__).with_name("hashing_vectors.json")
DIMS = (384, 32)


def long_text() -> str:
    """A deterministic text of exactly 2,000 characters with repeated words and bigrams."""
    words = [
        "Sluice",
        "moves",
        "documents",
        "through",
        "chunks",
        "and",
        "vectors",
        "into",
        "Milvus",
        "while",
        "Redis",
        "holds",
        "the",
        "queues",
        "2024",
        "v1.2",
    ]
    parts = []
    i = 0
    while sum(len(p) + 1 for p in parts) < 2100:
        parts.append(words[(i * 7 + i // 5) % len(words)] + ("." if i % 11 == 10 else ""))
        i += 1
    return " ".join(parts)[:2000]


# (name, text): what the embedder must agree on, including the Unicode corners of str.isalnum()
# and str.lower() that a port most easily gets wrong.
INPUTS: list[tuple[str, str]] = [
    ("ascii", "The quick brown fox jumps over the lazy dog"),
    ("punctuation-and-case", "Hello, WORLD!! hello... world? (HELLO-world)"),
    ("digits", "Version 2.0.1 was released in 2024; 3 bugs fixed, 42 to go."),
    ("accents-nfc", "Café Müller"),
    ("accents-nfd", "Cafe\u0301 Mu\u0308ller"),
    ("cjk", "東京は日本の首都です。北京是中国的首都"),
    ("emoji", "I ❤️ pizza 🍕 and 🍣!"),
    ("empty", ""),
    ("no-alphanumerics", "!!! ... --- ??? 🙂 ❤️"),
    ("whitespace-kinds", "tab\tseparated\nlines\u00a0nbsp\u3000ideographic"),
    ("greek-final-sigma", "ΟΔΥΣΣΕΥΣ Σ ΣΑΣ"),
    ("special-lowercase", "İstanbul STRASSE Straße ǅemal"),
    ("numeric-characters", "x² + y² = z², ½ Ⅻ ٣٤"),
    ("repeated-token", "echo echo echo echo"),
    ("long-2000", long_text()),
]


def encode_vector(vector: list[float]) -> str:
    """The vector's float32 components as concatenated big-endian bit patterns in hex."""
    return struct.pack(f">{len(vector)}f", *vector).hex()


def decode_vector(encoded: str) -> list[float]:
    """The inverse of encode_vector."""
    raw = bytes.fromhex(encoded)
    return list(struct.unpack(f">{len(raw) // 4}f", raw))


def build() -> dict[str, object]:
    """The whole test-vector document."""
    embedders = {dim: HashingEmbedder(dim) for dim in DIMS}
    cases = []
    for name, text in INPUTS:
        for dim in DIMS:
            (vector,) = embedders[dim].embed([text])
            cases.append(
                {
                    "name": name,
                    "text": text,
                    "dim": dim,
                    "tokens": tokenize(text),
                    "vector_f32be_hex": encode_vector(vector),
                }
            )
    return {
        "embedder": {"name": "hashing", "version": "1"},
        "specification": "shared/sluice/embedders/hashing.py (module docstring)",
        "vector_encoding": "components in order, each the IEEE 754 binary32 bit pattern, "
        "big-endian, as 8 lower-case hex digits, concatenated",
        "cases": cases,
    }


def main() -> None:
    text = json.dumps(build(), ensure_ascii=False, indent=2) + "\n"
    OUTPUT.write_text(text, encoding="utf-8")
    print(f"wrote {OUTPUT}")


if __name__ == "__main__":
    main()

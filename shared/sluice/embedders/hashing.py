"""A deterministic feature-hashing embedder: fast, dependency-free, lexical only.

Specification (the Go port must follow it exactly, bit for bit):
1. Tokens are the maximal runs of characters for which `str.isalnum()` is true, lower-cased
   with `str.lower()`.
2. Features are the tokens and, for each pair of adjacent tokens, the bigram "a b".
3. Each feature's UTF-8 bytes are hashed with SHA-256; the first 8 bytes of the digest, read as
   a big-endian unsigned integer h, give the bucket `h % dim` and the sign: +1 if bit 63 of h
   is 0, else -1.
4. The vector is the sum of signed counts (integers, so exact) divided by its Euclidean norm
   (computed in float64), then rounded to float32. An input with no tokens gives the zero vector.

Character classes and lower-casing follow the Unicode tables of the running Python (3.11:
Unicode 14; Go 1.26: Unicode 15), so a text with characters assigned between two such versions
(e.g. CJK Extension H) may tokenise differently; `tests/shared/testdata/hashing_vectors.json`
holds the reference vectors both implementations must reproduce.
"""

from __future__ import annotations

import hashlib
import math
import struct
from itertools import pairwise

from sluice.embedders.catalogue import TextKind
from sluice.embedders.identity import HASHING_VERSION, EmbedderIdentity

_SIGN_BIT = 1 << 63


def tokenize(text: str) -> list[str]:
    """Lower-cased maximal alphanumeric runs (step 1 of the specification)."""
    tokens: list[str] = []
    current: list[str] = []
    for ch in text:
        if ch.isalnum():
            current.append(ch)
        elif current:
            tokens.append("".join(current).lower())
            current = []
    if current:
        tokens.append("".join(current).lower())
    return tokens


class HashingEmbedder:
    """Signed feature hashing of unigrams and bigrams into `dim` buckets."""

    def __init__(self, dim: int = 384) -> None:
        self.dim = dim
        self.identity = EmbedderIdentity(name="hashing", dim=dim, version=HASHING_VERSION)
        self._buckets: dict[str, tuple[int, int]] = {}

    def warm(self) -> None:
        """Nothing to load."""

    def embed(self, texts: list[str], kind: TextKind = "passage") -> list[list[float]]:
        """One unit vector per text (zero vector for a text without tokens); queries and
        passages alike."""
        return [self._embed_one(text) for text in texts]

    def _embed_one(self, text: str) -> list[float]:
        tokens = tokenize(text)
        counts = [0] * self.dim
        features = tokens + [f"{a} {b}" for a, b in pairwise(tokens)]
        for feature in features:
            bucket, sign = self._bucket(feature)
            counts[bucket] += sign
        norm = math.sqrt(sum(c * c for c in counts))
        if norm == 0:
            return [0.0] * self.dim
        return [_float32(c / norm) for c in counts]

    def _bucket(self, feature: str) -> tuple[int, int]:
        cached = self._buckets.get(feature)
        if cached is None:
            (h,) = struct.unpack(">Q", hashlib.sha256(feature.encode("utf-8")).digest()[:8])
            cached = (h % self.dim, -1 if h & _SIGN_BIT else 1)
            if len(self._buckets) < 200_000:
                self._buckets[feature] = cached
        return cached


def _float32(value: float) -> float:
    (rounded,) = struct.unpack("<f", struct.pack("<f", value))
    return float(rounded)

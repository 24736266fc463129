"""Text analysis for full-text search (BM25): tokens, stop words and Snowball English stems.

Milvus-lite's analyser cannot stem, so Sluice analyses text itself: the index function stores the
analysed terms in the BM25 field, and searchapi analyses queries the same way (Go port:
`searchapi/internal/analysis`; `tests/shared/testdata/analysis_vectors.json` holds the outputs
both must reproduce exactly).

Specification (version 1):
1. Tokens are the maximal runs of characters for which `str.isalnum()` is true (the hashing
   embedder's tokens), with their offsets in code points into the original text.
2. A token's word is `token.lower()` without the characters that are not alphanumeric: only
   U+0307 COMBINING DOT ABOVE can occur (from İ → i̇), and Milvus's own tokenizer would split
   the word there.
3. "english": a word in `ENGLISH_STOP_WORDS` is a stop word, and so are contractions split at
   an apostrophe (U+0027 or U+2019 directly between two tokens): both halves when the word,
   apostrophe, word is on the list ("don't", "it's"), and a second half that is a clitic
   (`CLITICS`: "john's" -> "john" + stop "s"). A single letter is otherwise a term like any
   other ("T cells", "vitamin C", "hepatitis B" must stay searchable). Every other word is
   stemmed with Snowball's English (Porter2) stemmer, Snowball 3.1.
4. "none": every word is a term; no stop words, no stemming.

A stop token's term is its word (stop words are removed before stemming). Texts are not
normalised (NFC): a decomposed accent (e + U+0301) is not alphanumeric and splits the word, as
it does for the hashing embedder. Character classes and lower-casing follow the running
Python's Unicode tables (3.11: Unicode 14; Go: 15), so characters new in Unicode 15 (e.g. CJK
Extension H) may be analysed differently by the two.
"""

from __future__ import annotations

import functools
import re
import threading
from dataclasses import dataclass
from typing import NamedTuple

import Stemmer  # PyStemmer: Snowball's C libstemmer

from sluice.errors import ConfigError

LANGUAGES = ("english", "none")
VERSION = 1  # bump whenever any output changes (terms, stop words, stems, offsets)

# Snowball's English stop word list, every word of it (174): snowballstem/snowball-website,
# algorithms/english/stop.txt (as of commit ce80856, 2025-03-04), also served at
# https://snowballstem.org/algorithms/english/stop.txt. Its commented-out words (us, will,
# can, may, might, must, shall, ...) are left out, as it advises.
ENGLISH_STOP_WORDS: frozenset[str] = frozenset(
    """
    i me my myself we our ours ourselves you your yours yourself yourselves he him his himself
    she her hers herself it its itself they them their theirs themselves what which who whom
    this that these those am is are was were be been being have has had having do does did
    doing would should could ought i'm you're he's she's it's we're they're i've you've we've
    they've i'd you'd he'd she'd we'd they'd i'll you'll he'll she'll we'll they'll isn't
    aren't wasn't weren't hasn't haven't hadn't doesn't don't didn't won't wouldn't shan't
    shouldn't can't cannot couldn't mustn't let's that's who's what's here's there's when's
    where's why's how's a an the and but if or because as until while of at by for with about
    against between into through during before after above below to from up down in out on
    off over under again further then once here there when where why how all any both each
    few more most other some such no nor not only own same so than too very
    """.split()
)

# What follows an apostrophe in a contraction or possessive: a stop word there ("could've",
# "parkinson's", "ain't"), a term anywhere else.
CLITICS: frozenset[str] = frozenset({"s", "t", "d", "m", "ll", "re", "ve"})

APOSTROPHES = "'\u2019"

# [^\W_]: \w is str.isalnum() or "_" (CPython's sre), so this is a maximal isalnum run.
_TOKEN = re.compile(r"[^\W_]+")
# Words per second of Analyzer.terms on SciFact's corpus (1.05M words in 150-word chunks, 2
# busy cores): ~0.45M without this cache, ~0.6-0.8M with it (94 % hits, ~6 MB when full).
_STEM_CACHE = 1 << 14


class Token(NamedTuple):
    """A token of a text: its term, its offsets in code points [start, end) into the original
    text, and whether it is a stop word (then its term is the lower-cased word, unstemmed)."""

    term: str
    start: int
    end: int
    stop: bool


def _word(token: str) -> str:
    """Step 2: the lower-cased token, alphanumeric characters only."""
    word = token.lower()
    if word.isalnum():
        return word
    return "".join(ch for ch in word if ch.isalnum())


_stemmers = threading.local()  # a PyStemmer object is not safe to share between threads


@functools.lru_cache(maxsize=_STEM_CACHE)
def _english(token: str) -> tuple[str, str, bool]:
    """A token's (word, term, stop) in English, cached: words repeat (Zipf)."""
    word = _word(token)
    if word in ENGLISH_STOP_WORDS:
        return word, word, True
    stemmer = getattr(_stemmers, "english", None)
    if stemmer is None:
        stemmer = _stemmers.english = Stemmer.Stemmer("english", 0)
    return word, stemmer.stemWord(word), False


@dataclass(frozen=True, slots=True)
class Analyzer:
    """Turns text into the terms of a language; cheap, immutable and safe to share."""

    language: str

    @property
    def identity(self) -> dict[str, str | int]:
        """What the BM25 field's terms depend on, recorded in the Milvus collection."""
        return {"language": self.language, "version": VERSION}

    def tokens(self, text: str) -> list[Token]:
        """Every token of `text` in order, stop words included (marked)."""
        if self.language == "none":
            return [
                Token(_word(m.group()), m.start(), m.end(), False) for m in _TOKEN.finditer(text)
            ]
        out: list[Token] = []
        prev_word = ""
        prev_end = -2
        for m in _TOKEN.finditer(text):
            start, end = m.span()
            word, term, stop = _english(m.group())
            if start == prev_end + 1 and text[prev_end] in APOSTROPHES:
                if f"{prev_word}'{word}" in ENGLISH_STOP_WORDS:
                    out[-1] = Token(prev_word, out[-1].start, prev_end, True)
                    term, stop = word, True
                elif word in CLITICS:
                    term, stop = word, True
            out.append(Token(term, start, end, stop))
            prev_word, prev_end = word, end
        return out

    def terms(self, text: str) -> list[str]:
        """The terms of `text` in order: its tokens' terms, stop words left out."""
        return [t.term for t in self.tokens(text) if not t.stop]

    def analyze(self, text: str) -> str:
        """The terms joined by single spaces: what the BM25 field holds (Milvus's standard
        tokenizer splits it back into exactly these terms)."""
        return " ".join(self.terms(text))


_ANALYZERS = {language: Analyzer(language) for language in LANGUAGES}


def analyzer(language: str) -> Analyzer:
    """The analyser of `language` (one of LANGUAGES); ConfigError for any other."""
    try:
        return _ANALYZERS[language]
    except KeyError:
        raise ConfigError(
            f"unknown text analysis language {language!r} (known: {', '.join(LANGUAGES)})"
        ) from None

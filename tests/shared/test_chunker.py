"""The chunker: chunks are spans of the text, at most `size` long, cut at the best breaks."""

from __future__ import annotations

import itertools
import random

import pytest

from sluice.chunker import Chunk, chunk_text


def _prose(seed: int, paragraphs: int) -> str:
    """Deterministic prose: paragraphs of sentences of words of varying length."""
    rng = random.Random(seed)
    words = [
        "the",
        "river",
        "carries",
        "documents",
        "through",
        "a",
        "narrow",
        "sluice",
        "gate",
        "into",
        "quiet",
        "indexed",
        "water",
        "where",
        "vectors",
        "rest",
        "and",
        "wait",
    ]
    out = []
    for _ in range(paragraphs):
        sentences = []
        for _ in range(rng.randint(1, 6)):
            sentence = " ".join(rng.choice(words) for _ in range(rng.randint(2, 25)))
            sentences.append(sentence.capitalize() + rng.choice([".", "!", "?", '."', ".)"]))
        out.append(" ".join(sentences))
    return "\n\n".join(out)


CORPUS = {
    "prose": _prose(1, 12),
    "prose-crlf": _prose(2, 8).replace("\n", "\r\n"),
    "padded": "\n\n   " + _prose(3, 3) + "  \n\t\n ",
    "unicode": (
        "Café Müller öffnet um acht.\u00a0Danach kommt niemand.\u3000東京は日本の首都です。"
        " Emoji 🙂 count as characters too! Ünïcödé wörds everywhere.\n\n"
    )
    * 6,
    "long-sentence": " ".join(f"word{i:03d}" for i in range(300)) + ".",
    "long-word": "Intro sentence here. " + "x" * 777 + " and then some tail words follow.",
    "no-spaces": "abcdefghij" * 40,
    "single-newlines": "line one\nline two\nline three\n" * 30,
}

SIZES = [(1, 0), (7, 3), (50, 10), (100, 0), (100, 30), (333, 1000), (1000, 150)]

CASES = [
    pytest.param(name, size, overlap, id=f"{name}-{size}-{overlap}")
    for name in CORPUS
    for size, overlap in SIZES
]


def _new_parts(text: str, chunks: list[Chunk]) -> list[str]:
    """Each chunk's text minus what the previous chunk already covered."""
    parts = []
    covered = 0
    for chunk in chunks:
        parts.append(text[max(chunk.start, covered) : chunk.end])
        covered = max(covered, chunk.end)
    return parts


def _non_whitespace(text: str) -> str:
    return "".join(text.split())


@pytest.mark.parametrize(("name", "size", "overlap"), CASES)
def test_every_chunk_is_a_stripped_span_of_at_most_size(name: str, size: int, overlap: int):
    text = CORPUS[name]
    chunks = chunk_text(text, size, overlap)
    assert chunks
    assert [c.number for c in chunks] == list(range(len(chunks)))
    for chunk in chunks:
        assert chunk.text == text[chunk.start : chunk.end]
        assert 0 < len(chunk.text) <= size
        assert chunk.text == chunk.text.strip()


@pytest.mark.parametrize(("name", "size", "overlap"), CASES)
def test_no_text_is_lost(name: str, size: int, overlap: int):
    text = CORPUS[name]
    chunks = chunk_text(text, size, overlap)
    assert _non_whitespace("".join(_new_parts(text, chunks))) == _non_whitespace(text)
    # Between and around the chunks there is only whitespace.
    assert not text[: chunks[0].start].strip()
    assert not text[chunks[-1].end :].strip()
    for previous, chunk in itertools.pairwise(chunks):
        assert chunk.start >= previous.start
        assert not text[previous.end : chunk.start].strip()


@pytest.mark.parametrize(("name", "size", "overlap"), CASES)
def test_consecutive_chunks_overlap_by_at_most_overlap(name: str, size: int, overlap: int):
    chunks = chunk_text(CORPUS[name], size, overlap)
    for previous, chunk in itertools.pairwise(chunks):
        assert previous.end - chunk.start <= min(overlap, size // 2)


@pytest.mark.parametrize("text", ["", " ", "\n\n\t  \r\n", "\u00a0\u3000\u2003"])
def test_blank_text_gives_no_chunks(text: str):
    assert chunk_text(text, 100, 10) == []


@pytest.mark.parametrize("size", [0, -1])
def test_size_must_be_positive(size: int):
    with pytest.raises(ValueError):
        chunk_text("some text", size, 0)


@pytest.mark.parametrize(
    "text",
    ["One short sentence.", "  padded words \n", "Two sentences. Right here!", "x" * 100],
)
def test_text_that_fits_is_one_chunk(text: str):
    chunks = chunk_text(text, 100, 20)
    assert chunks == [Chunk(0, text.index(text.strip()), len(text.rstrip()), text.strip())]


def test_cut_prefers_a_paragraph_break_over_a_sentence_end():
    first = "Alpha beta gamma. Delta epsilon zeta. Eta theta iota kappa."  # 60 chars
    second = "Lambda mu nu. Xi omicron pi. Rho sigma tau upsilon."
    text = f"{first}\n\n{second}"
    # Up to 100 characters would fit ("... Xi omicron pi."), but the paragraph ends at 60.
    chunks = chunk_text(text, 100, 0)
    assert [c.text for c in chunks] == [first, second]


def test_cut_prefers_a_sentence_end_over_a_space():
    opening = "The first sentence is short here. The second one ends at sixty."
    words = " ".join(f"w{i:02d}" for i in range(60))  # one sentence, much longer than size
    text = f"{opening} {words}"
    chunks = chunk_text(text, 100, 0)
    # Words would fill the chunk to ~100 characters; the sentence end (63) is stronger.
    assert chunks[0].text == opening
    assert all(len(c.text) <= 100 for c in chunks)


def test_a_break_closer_than_half_the_size_is_passed_over():
    text = "Tiny one. " + " ".join(f"w{i:02d}" for i in range(60))
    chunks = chunk_text(text, 100, 0)
    # Cutting after "Tiny one." would leave the chunk 9% full: it is filled with words instead.
    assert chunks[0].text.startswith("Tiny one. w00")
    assert len(chunks[0].text) >= 50


def test_a_long_sentence_is_cut_between_words():
    words = [f"token{i:03d}" for i in range(200)]  # 8 characters each
    text = " ".join(words)
    chunks = chunk_text(text, 50, 0)
    assert len(chunks) > 1
    for chunk in chunks:
        assert set(chunk.text.split()) <= set(words)  # no word was cut in two
    assert all(len(c.text) >= 25 for c in chunks[:-1])  # and each is at least half full
    assert [w for c in chunks for w in c.text.split()] == words


def test_a_word_longer_than_size_is_cut_hard():
    text = "x" * 250
    chunks = chunk_text(text, 100, 30)
    assert [(c.start, c.end) for c in chunks] == [(0, 100), (100, 200), (200, 250)]


def test_a_long_word_inside_text_is_cut_hard_and_kept_whole():
    word = "".join(chr(ord("a") + i % 26) for i in range(230))
    text = f"Before it. {word} After it."
    chunks = chunk_text(text, 100, 0)
    assert all(len(c.text) <= 100 for c in chunks)
    assert "".join(_new_parts(text, chunks)).replace(" ", "") == text.replace(" ", "")


def test_chunks_overlap_when_sentences_are_short():
    text = " ".join(f"Sentence number {i:02d} is short." for i in range(40))  # 29 chars each
    chunks = chunk_text(text, 200, 60)
    assert len(chunks) > 2
    for previous, chunk in itertools.pairwise(chunks):
        shared = previous.end - chunk.start
        assert 0 < shared <= 60
        # The overlap is made of whole sentences.
        assert text[chunk.start :].startswith("Sentence number")


def test_no_overlap_when_overlap_is_zero():
    text = " ".join(f"Sentence number {i:02d} is short." for i in range(40))
    chunks = chunk_text(text, 200, 0)
    for previous, chunk in itertools.pairwise(chunks):
        assert chunk.start >= previous.end


def test_chunking_is_deterministic():
    text = CORPUS["prose"]
    assert chunk_text(text, 300, 50) == chunk_text(text, 300, 50)


def test_every_chunk_brings_new_text():
    text = "Alpha beta gamma delta. " * 30 + "Short one here. " + "word " * 189 + "word."
    chunks = chunk_text(text, 1000, 150)
    for previous, chunk in itertools.pairwise(chunks):
        assert chunk.end > previous.end, (previous, chunk)

"""A hit's text column: searchapi's snippet with its highlights styled, or the chunk's text."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from sluice_cli.render import MARK, SNIPPET, hit_text, marked


def _marks(text: Text) -> list[str]:
    """The stretches of `text` in the MARK style."""
    return [text.plain[s.start : s.end] for s in text.spans if s.style == MARK]


def _at(text: str, word: str, nth: int = 0) -> dict[str, int]:
    """The code-point range of `word`'s `nth` occurrence in `text`."""
    start = -1
    for _ in range(nth + 1):
        start = text.index(word, start + 1)
    return {"start": start, "end": start + len(word)}


def test_marks_after_astral_characters_and_collapsed_whitespace() -> None:
    # a flag (two code points), mathematical bold A and B, an emoji: beyond the BMP all
    bold = "\U0001d400\U0001d401"
    text = f"🇫🇷 {bold} 😀\n\n  Running\tpast   the runners "
    shown = marked(text, [_at(text, "Running"), _at(text, "runners")])
    assert shown.plain == f"🇫🇷 {bold} 😀 Running past the runners"
    assert _marks(shown) == ["Running", "runners"]


def test_brackets_stay_text() -> None:
    text = "[bold]not bold[/bold] \\[x] [link=http://x]y[/link]"
    shown = marked(text, [_at(text, "bold", 1)])
    assert shown.plain == text
    assert _marks(shown) == ["bold"]


def test_bad_highlights_are_left_out() -> None:
    text = "gate one"
    bad: list[Any] = [
        {"start": 5, "end": 99},  # past the end: to the end
        {"start": 3, "end": 1},
        {"start": True, "end": 2},
        {"start": "0", "end": 4},
        None,
        "x",
    ]
    assert _marks(marked(text, bad)) == ["one"]
    assert _marks(marked(text, None)) == []
    assert _marks(marked(text, {"start": 0})) == []


def test_the_snippet_with_ellipses_where_the_text_goes_on() -> None:
    passage = "the sluice gates open"
    text = f"Before.  {passage}   after."
    start = text.index(passage)
    hit = {
        "text": text,
        "snippet": {
            "text": passage, "start": start, "end": start + len(passage),
            "highlights": [_at(passage, "gates")],
        },
    }  # fmt: skip
    shown = hit_text(hit)
    assert shown.plain == f"…{passage}…"
    assert _marks(shown) == ["gates"]
    # The whole text (but its whitespace): no ellipsis.
    whole = {"text": f"  {passage}\n", "snippet": {**hit["snippet"], "start": 2, "end": 23}}
    assert hit_text(whole).plain == passage


def test_without_a_snippet_the_text_from_its_start() -> None:
    text = "word " * 100
    shown = hit_text({"text": text})
    assert shown.plain.startswith("word word") and shown.plain.endswith("…")
    assert len(shown.plain) <= SNIPPET and not _marks(shown)
    # Highlights but no snippet: marked in the text.
    assert _marks(hit_text({"text": "open the gate", "highlights": [{"start": 9, "end": 13}]})) == [
        "gate"
    ]


def test_more_passages_of_a_grouped_hit() -> None:
    assert hit_text({"text": "x", "more_chunks": 1}).plain == "x\n+1 more passage in this document"
    assert hit_text({"text": "x", "more_chunks": 2}).plain.endswith(
        "+2 more passages in this document"
    )
    assert hit_text({"text": "x", "more_chunks": 0}).plain == "x"
    assert hit_text({"text": "x"}).plain == "x"

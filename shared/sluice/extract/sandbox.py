"""Parse a file in a child process with bounded time and memory, so that a hostile or broken
file (a zip bomb, a PDF that sends PDFium into a loop) costs one child, never the function.

The children come from a multiprocessing fork server that has imported the parsers once
(`parsers`), so starting one costs a fork, not an interpreter. Each child limits its own
address space (RLIMIT_AS) before parsing; the parent waits at most the timeout, then kills it.
Plain text is decoded in the calling process: there is nothing in it to bound.

As with any multiprocessing start method but fork, every child imports the program's main
module again (as `__mp_main__`; Python 3.11's fork server cannot preload it): a script that
calls `extract` keeps its work under `if __name__ == "__main__":`, and what the main module
imports each child pays for. Sluice's servers run as `sluice serve`, whose script imports only
`sluice_cli.main` (the standard library): a child costs ~10 ms.
"""

from __future__ import annotations

import multiprocessing
import resource
from multiprocessing.connection import Connection
from typing import Any

from sluice.extract.formats import FORMATS
from sluice.extract.parsers import parse
from sluice.extract.result import Extracted, ExtractionFailed, Limits

_CONTEXT = multiprocessing.get_context("forkserver")
_CONTEXT.set_forkserver_preload(["sluice.extract.parsers"])


def extract(data: bytes, media_type: str, charset: str | None, limits: Limits) -> Extracted:
    """The text and structure of a file of `media_type` (one `formats.FORMATS` knows); raises
    `ExtractionFailed` naming why it cannot be had."""
    kind = FORMATS[media_type]
    if kind == "text":
        return parse(kind, data, charset, limits)
    receiver, sender = _CONTEXT.Pipe(duplex=False)
    child = _CONTEXT.Process(
        target=_parse_in_child,
        args=(sender, kind, data, charset, limits),
        name=f"sluice-extract-{kind}",
        daemon=True,
    )
    child.start()
    sender.close()
    try:
        outcome = _outcome(receiver, child, limits)
    finally:
        receiver.close()
        if child.is_alive():
            child.kill()
        child.join()
    status, value = outcome
    if status == "ok":
        assert isinstance(value, Extracted)
        return value
    raise ExtractionFailed(str(value))


def _outcome(receiver: Connection, child: Any, limits: Limits) -> tuple[str, object]:
    if not receiver.poll(limits.timeout_seconds):
        child.kill()
        return "failed", f"parsing took longer than {limits.timeout_seconds:g} s (the limit)"
    try:
        outcome: tuple[str, object] = receiver.recv()
    except EOFError:  # the child died without an answer: killed, or the parser crashed
        child.join(5)
        return "failed", (
            f"the parser died (exit {child.exitcode}) reading the file: a damaged file, or it "
            f"needed more than the {limits.memory_bytes >> 20} MiB memory limit"
        )
    return outcome


def _parse_in_child(
    sender: Connection, kind: str, data: bytes, charset: str | None, limits: Limits
) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))
    try:
        outcome: tuple[str, object] = ("ok", parse(kind, data, charset, limits))
    except ExtractionFailed as exc:
        outcome = ("failed", str(exc))
    except MemoryError:
        outcome = (
            "failed",
            f"the file needs more than the {limits.memory_bytes >> 20} MiB memory limit to parse",
        )
    except Exception as exc:  # a parser's own bug or an unexpected kind of damage
        outcome = ("failed", f"the parser failed: {type(exc).__name__}: {str(exc)[:300]}")
    try:
        sender.send(outcome)
    except MemoryError:
        sender.send(("failed", "the extracted text is too large to hand back"))
    finally:
        sender.close()

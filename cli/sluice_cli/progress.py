"""What an ingest run shows while it runs: a progress bar on a terminal, a plain line per
event otherwise; and the counts both keep."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from types import TracebackType

from rich.console import Console
from rich.filesize import decimal
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.text import Text


@dataclass
class Tally:
    """The counts of a run. `sent` counts documents the server answered for (accepted or
    unchanged); `failed` those refused, not sent, or failed in the pipeline."""

    documents: int = 0
    bytes_total: int = 0
    sent: int = 0
    accepted: int = 0
    unchanged: int = 0
    indexed: int = 0
    failed: int = 0
    skipped: int = 0
    bytes_sent: int = 0
    failures: list[tuple[str, str]] = field(default_factory=list)

    def sending(self) -> str:
        """`sent/planned sent · n accepted · n unchanged · n failed`."""
        return (
            f"{self.sent}/{self.documents} sent · {self.accepted} accepted · "
            f"{self.unchanged} unchanged · {self.failed} failed"
        )

    def indexing(self) -> str:
        """`n indexed · n failed`."""
        return f"{self.indexed} indexed · {self.failed} failed"


class Reporter:
    """Counts a run's events and shows them (subclasses decide how). Thread-safe."""

    def __init__(self, console: Console, *, verbose: bool = False) -> None:
        self.console = console
        self.verbose = verbose
        self.tally = Tally()
        self._lock = threading.Lock()

    def __enter__(self) -> Reporter:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()

    def planned(self, documents: int, nbytes: int) -> None:
        """The run is about to send `documents` documents of `nbytes` bytes in all."""
        with self._lock:
            self.tally.documents, self.tally.bytes_total = documents, nbytes
            self._planned()

    def sent(self, name: str, status: str, nbytes: int) -> None:
        """The server answered `status` (`accepted` or `unchanged`) for a document."""
        with self._lock:
            self.tally.sent += 1
            self.tally.bytes_sent += nbytes
            if status == "unchanged":
                self.tally.unchanged += 1
            else:
                self.tally.accepted += 1
            self._line("dim" if status == "unchanged" else "green", status, name, None, False)
            self._advance(nbytes)

    def failed(self, name: str, reason: str, nbytes: int = 0) -> None:
        """A document was refused, could not be sent, or failed in the pipeline."""
        with self._lock:
            self.tally.failed += 1
            self.tally.failures.append((name, reason))
            self._line("red", "failed", name, reason, True)
            self._advance(nbytes)

    def skipped(self, name: str, why: str) -> None:
        """A file found in a folder is not sent (listed with `--verbose`)."""
        with self._lock:
            self.tally.skipped += 1
            if self.verbose:
                self._line("yellow", "skipped", name, why, True)

    def following(self, count: int) -> None:
        """`--wait`: `count` documents are followed until indexed or failed."""
        with self._lock:
            self._following(count)

    def indexed(self, name: str) -> None:
        """A followed document is indexed."""
        with self._lock:
            self.tally.indexed += 1
            self._line("green", "indexed", name, None, False)
            self._settled()

    def failed_in_pipeline(self, name: str, reason: str) -> None:
        """A followed document failed (or did not finish in time)."""
        self.failed(name, reason)
        with self._lock:
            self._settled()

    def note(self, text: str) -> None:
        """A line for the user, whatever the mode."""
        with self._lock:
            self.console.print(Text(text, style="yellow"))

    def stop(self) -> None:
        """The run is over: leave the display as it is."""

    def _planned(self) -> None: ...

    def _advance(self, nbytes: int) -> None: ...

    def _following(self, count: int) -> None: ...

    def _settled(self) -> None: ...

    def _line(self, style: str, what: str, name: str, reason: str | None, always: bool) -> None:
        """Show one event; `always` events are shown even above a progress bar."""


class LineReporter(Reporter):
    """A plain line for each event, for logs and pipes (no terminal)."""

    def _following(self, count: int) -> None:
        self.console.print(f"waiting for {count} documents to be indexed", highlight=False)

    def _line(self, style: str, what: str, name: str, reason: str | None, always: bool) -> None:
        text = f"{what:<9} {name}" + (f": {reason}" if reason else "")
        self.console.print(text, markup=False, highlight=False, soft_wrap=True)


class BarReporter(Reporter):
    """A rich progress bar on a terminal: documents sent, accepted, unchanged, indexed,
    failed; bytes, rate and ETA. Failures (and with `--verbose` every event) print above it."""

    def __init__(self, console: Console, *, verbose: bool = False) -> None:
        super().__init__(console, verbose=verbose)
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[counts]}"),
            _AmountColumn(),
            _RateColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=console,
        )
        self._sending: TaskID | None = None
        self._waiting: TaskID | None = None

    def _planned(self) -> None:
        self.progress.start()
        self._sending = self.progress.add_task(
            "sending", total=self.tally.bytes_total, counts=self.tally.sending(), unit="bytes"
        )

    def _advance(self, nbytes: int) -> None:
        self._update(self._sending, advance=nbytes)

    def _following(self, count: int) -> None:
        self._waiting = self.progress.add_task(
            "indexing", total=count, counts=self.tally.indexing(), unit="docs"
        )

    def _settled(self) -> None:
        self._update(self._waiting, advance=1)

    def _update(self, task: TaskID | None, advance: int) -> None:
        if task is not None:
            self.progress.update(task, advance=advance)
        if self._sending is not None:
            self.progress.update(self._sending, counts=self.tally.sending())
        if self._waiting is not None:
            self.progress.update(self._waiting, counts=self.tally.indexing())

    def _line(self, style: str, what: str, name: str, reason: str | None, always: bool) -> None:
        if always or self.verbose:
            text = Text.assemble((f"{what:<9}", style), " ", name, f": {reason}" if reason else "")
            self.progress.console.print(text)

    def stop(self) -> None:
        self.progress.stop()


class _AmountColumn(ProgressColumn):
    """Bytes done of the total for the sending task, documents for the indexing one."""

    def __init__(self) -> None:
        super().__init__()
        self._bytes, self._docs = DownloadColumn(), MofNCompleteColumn()

    def render(self, task: Task) -> Text:
        if task.fields.get("unit") == "bytes":
            return self._bytes.render(task)
        return Text(f"{self._docs.render(task)} docs", style="progress.download")


class _RateColumn(ProgressColumn):
    """Bytes a second while sending, documents a second while indexing."""

    def __init__(self) -> None:
        super().__init__()
        self._bytes = TransferSpeedColumn()

    def render(self, task: Task) -> Text:
        if task.fields.get("unit") == "bytes":
            return self._bytes.render(task)
        speed = task.finished_speed or task.speed
        return Text("?" if speed is None else f"{speed:.1f} docs/s", style="progress.data.speed")


def reporter(console: Console, *, verbose: bool) -> Reporter:
    """A progress bar when the console is a terminal, else plain lines."""
    if console.is_terminal:
        return BarReporter(console, verbose=verbose)
    return LineReporter(console, verbose=verbose)


def summary(tally: Tally, seconds: float, *, waited: bool) -> str:
    """The last lines of a run: counts, bytes, wall time, documents a second, failures."""
    rate = tally.sent / seconds if seconds > 0 else 0.0
    parts = [f"{tally.accepted} accepted", f"{tally.unchanged} unchanged"]
    if waited:
        parts.append(f"{tally.indexed} indexed")
    parts += [f"{tally.failed} failed", f"{tally.skipped} skipped"]
    lines = [
        f"sent {tally.sent} of {tally.documents} documents ({decimal(tally.bytes_sent)}) "
        f"in {seconds:.1f} s, {rate:.1f} docs/s: {', '.join(parts)}"
    ]
    if tally.failures:
        lines.append("failed:")
        lines += [f"  {name}: {reason}" for name, reason in tally.failures]
    return "\n".join(lines)

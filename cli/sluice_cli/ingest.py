"""An ingest run: send every file (raw bytes) and every JSON-lines batch, concurrently; with
`--wait`, follow each document until it is indexed or failed."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from functools import partial
from typing import Any, TypeVar
from urllib.parse import quote

from sluice_cli import jsonl
from sluice_cli.client import Client
from sluice_cli.errors import FAILED, OK, ApiError, CliError, fatal
from sluice_cli.progress import Reporter
from sluice_cli.sources import Plan, Source

DOCUMENTS = "/v1/ingest/documents"
FIRST_POLL, LAST_POLL = 0.5, 2.0  # seconds between rounds of status reads, rising
T = TypeVar("T")


@dataclass(frozen=True)
class Options:
    """What the command line asked for besides the paths."""

    tenant: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    concurrency: int = 4
    wait: bool = False
    timeout: float = 600.0


@dataclass(frozen=True)
class Submitted:
    """A document the server took (accepted or unchanged): what to follow with `--wait`."""

    name: str
    doc_id: str
    status: str


def status_path(doc_id: str) -> str:
    """The path of a document's status below the base URL."""
    return f"{DOCUMENTS}/{quote(doc_id, safe='')}"


class IngestRun:
    """Sends a plan's sources with `client`, reporting to `reporter`. `error` is the first
    error that stopped the run (the key refused, the server unreachable), if any."""

    def __init__(self, client: Client, reporter: Reporter, options: Options) -> None:
        self.client = client
        self.reporter = reporter
        self.options = options
        self.error: CliError | None = None
        self._worst = FAILED  # a 500 answered for some document: 3
        self._stop = threading.Event()
        self._params: dict[str, str] = {"tenant": options.tenant} if options.tenant else {}

    @property
    def exit_code(self) -> int:
        """0 when everything was taken (and indexed, with `wait`); else the error's code."""
        if self.error is not None:
            return self.error.exit_code
        return self._worst if self.reporter.tally.failed else OK

    def run(self, plan: Plan) -> None:
        """Send everything, then (with `wait`) follow what was taken."""
        self.reporter.planned(_documents(plan.sources), sum(s.size for s in plan.sources))
        for name, why in plan.skipped:
            self.reporter.skipped(name, why)
        if plan.folders_not_descended:
            self.reporter.note(
                f"{plan.folders_not_descended} subfolders not entered (--recursive enters them)"
            )
        for name, reason in plan.problems:
            self.reporter.failed(name, reason)
        with ThreadPoolExecutor(self.options.concurrency, thread_name_prefix="ingest") as pool:
            taken = self._send_all(pool, plan.sources)
            if self.options.wait and taken and self.error is None:
                self._follow(pool, taken)

    def _send_all(self, pool: ThreadPoolExecutor, sources: list[Source]) -> list[Submitted]:
        """Run every unit of work, at most `concurrency` at a time plus as many queued."""
        taken: list[Submitted] = []
        running: set[Future[list[Submitted]]] = set()

        def collect(done: Iterable[Future[list[Submitted]]]) -> None:
            for future in done:
                running.discard(future)
                taken.extend(future.result())

        try:
            for unit in self._units(sources):
                if self._stop.is_set():
                    break
                running.add(pool.submit(unit))
                if len(running) >= 2 * self.options.concurrency:
                    collect(wait(running, return_when=FIRST_COMPLETED).done)
            collect(wait(running).done)
        except BaseException:
            self._stop.set()  # Ctrl-C: queued units return at once
            raise
        return taken

    def _units(self, sources: list[Source]) -> Iterator[Callable[[], list[Submitted]]]:
        for source in sources:
            if source.media_type is not None:
                yield partial(self._guard, partial(self._send_file, source))
            else:
                yield from self._jsonl_units(source)

    def _jsonl_units(self, source: Source) -> Iterator[Callable[[], list[Submitted]]]:
        try:
            for item in jsonl.batches(jsonl.read(source.path)):
                if isinstance(item, jsonl.BadLine):
                    self.reporter.failed(f"{source.name}:{item.number}", item.reason, item.size)
                else:
                    yield partial(self._guard, partial(self._send_batch, source, item))
        except OSError as exc:
            self.reporter.failed(source.name, f"cannot read it: {exc.strerror or exc}")

    def _guard(self, send: Callable[[], list[T]]) -> list[T]:
        """Run one unit unless the run stopped; an error that would fail every request stops
        the run."""
        if self._stop.is_set():
            return []
        try:
            return send()
        except CliError as exc:
            if not fatal(exc):
                raise
            if not self._stop.is_set():
                self._stop.set()
                self.error = exc
            return []

    def _send_file(self, source: Source) -> list[Submitted]:
        assert source.doc_id is not None and source.media_type is not None
        try:
            body = source.path.read_bytes()
        except OSError as exc:
            self.reporter.failed(source.name, f"cannot read it: {exc.strerror or exc}", source.size)
            return []
        params = {"id": source.doc_id, "filename": source.path.name, **self._params}
        if self.options.metadata:
            params["metadata"] = json.dumps(self.options.metadata, ensure_ascii=False)
        try:
            response = self.client.request(
                "POST",
                DOCUMENTS,
                params=params,
                content=body,
                headers={"Content-Type": source.media_type},
            )
        except ApiError as exc:
            if fatal(exc):
                raise
            self._refused(exc)
            self.reporter.failed(source.name, str(exc), len(body))
            return []
        answer = response.json()
        self.reporter.sent(source.name, answer["status"], len(body))
        return [Submitted(source.name, answer["id"], answer["status"])]

    def _send_batch(self, source: Source, batch: list[jsonl.Line]) -> list[Submitted]:
        """One JSON batch; refused as a whole (some line is invalid), each line on its own,
        so that only the bad ones fail."""
        documents = [self._document(line.document) for line in batch]
        try:
            answer = self.client.post(DOCUMENTS, {"documents": documents})
        except ApiError as exc:
            if fatal(exc):
                raise
            if len(batch) > 1 and exc.status < 500:
                return [s for line in batch for s in self._send_batch(source, [line])]
            self._refused(exc)
            for line in batch:
                self.reporter.failed(f"{source.name}:{line.number}", str(exc), line.size)
            return []
        taken = []
        for line, result in zip(batch, answer["documents"], strict=True):
            name = f"{source.name}:{line.number}"
            self.reporter.sent(name, result["status"], line.size)
            taken.append(Submitted(name, result["id"], result["status"]))
        return taken

    def _refused(self, error: ApiError) -> None:
        self._worst = max(self._worst, error.exit_code)

    def _document(self, document: dict[str, Any]) -> dict[str, Any]:
        """A line's document with the run's tenant and metadata (the line's own keys win)."""
        result = dict(document)
        if self.options.tenant and "tenant" not in result:
            result["tenant"] = self.options.tenant
        metadata = result.get("metadata")
        if self.options.metadata and (metadata is None or isinstance(metadata, dict)):
            result["metadata"] = {**self.options.metadata, **(metadata or {})}
        return result

    def _follow(self, pool: ThreadPoolExecutor, taken: list[Submitted]) -> None:
        """Read each document's status, round after round, until it is indexed or failed or
        the timeout passes."""
        self.reporter.following(len(taken))
        pending = list(taken)
        deadline = time.monotonic() + self.options.timeout
        delay = FIRST_POLL
        while pending:
            statuses = list(pool.map(self._status, pending))
            if self.error is not None:
                return
            pending = [doc for doc, done in zip(pending, statuses, strict=True) if not done]
            remaining = deadline - time.monotonic()
            if pending and remaining <= 0:
                for doc in pending:
                    self.reporter.failed_in_pipeline(
                        doc.name, f"not indexed within {self.options.timeout:g} s (--timeout)"
                    )
                return
            if pending:
                time.sleep(min(delay, remaining))
                delay = min(LAST_POLL, delay * 1.5)

    def _status(self, doc: Submitted) -> bool:
        """Whether the document is settled (indexed or failed), reporting it when it is."""
        if self._stop.is_set():
            return True
        try:
            record = self._guard(partial(self._record, doc))
        except ApiError as exc:
            self._refused(exc)
            self.reporter.failed_in_pipeline(doc.name, str(exc))
            return True
        if not record:
            return True
        status, error = record[0]
        if status == "indexed":
            self.reporter.indexed(doc.name)
        elif status in ("failed", "deleted"):
            self.reporter.failed_in_pipeline(doc.name, error or status)
        else:
            return False
        return True

    def _record(self, doc: Submitted) -> list[tuple[str, str | None]]:
        record = self.client.get(status_path(doc.doc_id), self._params)
        return [(record["status"], record.get("error"))]


def _documents(sources: list[Source]) -> int:
    """How many documents the sources hold (a JSON-lines file: its non-blank lines)."""
    total = 0
    for source in sources:
        if source.media_type is not None:
            total += 1
            continue
        try:
            total += jsonl.count(source.path)
        except OSError:
            total += 1
    return total

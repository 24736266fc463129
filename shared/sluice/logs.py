"""JSON logging: one object per line, carrying the current event, document, tenant and trace.

Every line has `time` (ISO 8601, UTC, milliseconds), `level` (DEBUG, INFO, WARNING, ERROR,
CRITICAL), `logger`, `message` and `service`; inside a `log_context` block also the fields it
set: `event_id`, `event_type`, `document_id`, `tenant`, `trace_id`, `span_id`, ... Python
warnings, uncaught exceptions and gunicorn's own loggers go through the same handler, so a
process never writes a line that is not JSON.
"""

from __future__ import annotations

import io
import logging
import sys
import threading
import traceback
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

from pythonjsonlogger.json import JsonFormatter

from sluice.tracing import TraceContext

_context: ContextVar[dict[str, Any]] = ContextVar("sluice_log_context", default={})  # noqa: B039


class _ContextFilter(logging.Filter):
    """Copies the current log context (event id, document id, ...) onto every record."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def filter(self, record: logging.LogRecord) -> bool:
        record.service = self.service
        for key, value in _context.get().items():
            if not hasattr(record, key):  # a field passed in `extra` wins
                setattr(record, key, value)
        return True


class _Formatter(JsonFormatter):
    """python-json-logger with an ISO 8601 UTC `time`."""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        moment = datetime.fromtimestamp(record.created, UTC)
        return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _formatter() -> logging.Formatter:
    return _Formatter(
        "{asctime}{levelname}{name}{message}",
        style="{",
        rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
    )


def dict_config(service: str, level: str = "INFO", loggers: tuple[str, ...] = ()) -> dict[str, Any]:
    """A `logging.config.dictConfig` that sends `loggers` (e.g. an HTTP server's own) to
    stderr as Sluice's JSON lines, tagged with `service`."""
    handler = {"class": "logging.StreamHandler", "formatter": "json", "filters": ["context"]}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": _formatter}},
        "filters": {"context": {"()": _ContextFilter, "service": service}},
        "handlers": {"stderr": handler},
        "loggers": {
            name: {"handlers": ["stderr"], "level": level, "propagate": False} for name in loggers
        },
    }


def configure_logging(service: str, level: str = "INFO") -> None:
    """Send all logging to stderr as JSON lines tagged with `service`; idempotent."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_formatter())
    handler.addFilter(_ContextFilter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request is noise
    logging.captureWarnings(True)  # warnings.warn() would print plain text to stderr
    sys.excepthook = _log_uncaught
    threading.excepthook = _log_uncaught_in_thread
    if "functions_framework" in sys.modules or "gunicorn" in sys.modules:
        _json_gunicorn_logs(handler)


def adopt_library_loggers(*names: str) -> None:
    """Make loggers that a library configured with handlers of its own (plain text) log
    through the root logger, Sluice's JSON handler, instead."""
    for name in names:
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True


class _StderrToLog(io.TextIOBase):
    """A stand-in for sys.stderr that logs what is written to it, a line at a time."""

    def __init__(self) -> None:
        self._pending = ""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self._pending += text
        *lines, self._pending = self._pending.split("\n")
        if lines:
            logging.getLogger("stderr").error("\n".join(lines))
        return len(text)

    def flush(self) -> None:
        if self._pending:
            logging.getLogger("stderr").error(self._pending)
            self._pending = ""


def errors_to_log() -> None:
    """Send what code writes to sys.stderr itself (e.g. multiprocessing's traceback of a dying
    child process) through the JSON log; the log handler keeps the real stream."""
    sys.stderr = _StderrToLog()


@contextmanager
def log_context(**fields: Any) -> Iterator[None]:
    """Add fields (event_id, document_id, tenant, trace_id, ...) to every log line inside the
    block; a field given None keeps the outer block's value."""
    merged = {**_context.get(), **{k: v for k, v in fields.items() if v is not None}}
    token = _context.set(merged)
    try:
        yield
    finally:
        _context.reset(token)


def document_context(tenant: str, doc_id: str, span: TraceContext) -> AbstractContextManager[None]:
    """Log lines about one document, written in one span of its trace."""
    return log_context(document_id=doc_id, tenant=tenant, **span.log_fields())


def _log_uncaught(
    kind: type[BaseException], value: BaseException, tb: TracebackType | None
) -> None:
    if issubclass(kind, KeyboardInterrupt):
        sys.__excepthook__(kind, value, tb)
        return
    logging.getLogger("sluice").critical(
        "uncaught exception: %s", value, extra={"traceback": "".join(traceback.format_tb(tb))}
    )


def _log_uncaught_in_thread(args: threading.ExceptHookArgs) -> None:
    if args.exc_value is not None:
        _log_uncaught(args.exc_type, args.exc_value, args.exc_traceback)


def _json_gunicorn_logs(handler: logging.Handler) -> None:
    """Make gunicorn's `gunicorn.error`/`gunicorn.access` loggers write JSON too.

    functions-framework starts gunicorn with no way to pass it a logging config, and gunicorn's
    Logger gives those loggers their own plain-text handlers when the arbiter starts (after the
    function's module, and so this, ran in the master). So its `setup` is wrapped to give every
    handler it installs our formatter and context filter. Workers are forked from the master and
    inherit the wrapped class.
    """
    try:
        from gunicorn import glogging
    except ImportError:  # not served by gunicorn
        return
    original = glogging.Logger.setup
    if getattr(original, "_sluice_json", False):
        return

    def setup(self: glogging.Logger, cfg: Any) -> None:
        original(self, cfg)
        for log in (self.error_log, self.access_log):
            for installed in log.handlers:
                installed.setFormatter(handler.formatter)
                for each in handler.filters:
                    installed.addFilter(each)

    setup._sluice_json = True  # type: ignore[attr-defined]
    glogging.Logger.setup = setup

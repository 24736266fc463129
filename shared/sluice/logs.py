"""JSON logging: one object per line, carrying the current event id, document id and tenant."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from pythonjsonlogger.json import JsonFormatter

_context: ContextVar[dict[str, Any]] = ContextVar("sluice_log_context", default={})  # noqa: B039


class _ContextFilter(logging.Filter):
    """Copies the current log context (event id, document id, ...) onto every record."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def filter(self, record: logging.LogRecord) -> bool:
        record.service = self.service
        for key, value in _context.get().items():
            setattr(record, key, value)
        return True


def configure_logging(service: str, level: str = "INFO") -> None:
    """Send all logging to stderr as JSON lines tagged with `service`; idempotent."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonFormatter(
            "{asctime}{levelname}{name}{message}",
            style="{",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
        )
    )
    handler.addFilter(_ContextFilter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request is noise


@contextmanager
def log_context(**fields: Any) -> Iterator[None]:
    """Add fields (event_id, document_id, tenant, ...) to every log line inside the block."""
    merged = {**_context.get(), **{k: v for k, v in fields.items() if v is not None}}
    token = _context.set(merged)
    try:
        yield
    finally:
        _context.reset(token)

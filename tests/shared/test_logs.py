"""JSON log lines: fields, context, and the lines that do not come from `logging.info`."""

from __future__ import annotations

import json
import subprocess
import sys

LOG = """
import logging, warnings
from sluice.logs import configure_logging, log_context
configure_logging("test", "INFO")
log = logging.getLogger("sluice.test")
log.info("outside")
with log_context(event_id="e1", document_id="d1", tenant="t1", trace_id="a" * 32, span_id="b" * 16):
    with log_context(document_id="d2", tenant=None):
        log.warning("inside %s", "here", extra={"chunks": 3})
warnings.warn("old API")
raise RuntimeError("boom")
"""

GUNICORN = """
import functions_framework  # what makes configure_logging look after gunicorn's loggers
from gunicorn.config import Config
from gunicorn.glogging import Logger
from sluice.logs import configure_logging
configure_logging("test", "INFO")
Logger(Config()).error_log.error("WORKER TIMEOUT (pid:%s)", 42)
"""


def _lines(code: str) -> list[dict[str, object]]:
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert lines, "no log lines"
    return [json.loads(line) for line in lines]  # every line is one JSON object


def test_lines_carry_the_documented_fields_and_the_context() -> None:
    outside, inside, warning, uncaught = _lines(LOG)
    assert outside["message"] == "outside"
    assert outside["level"] == "INFO"
    assert outside["logger"] == "sluice.test"
    assert outside["service"] == "test"
    assert str(outside["time"]).endswith("Z") and "T" in str(outside["time"])
    assert "document_id" not in outside
    assert inside["message"] == "inside here"
    assert inside["level"] == "WARNING"
    assert inside["chunks"] == 3
    # The inner block replaces document_id; None keeps the outer tenant.
    assert {k: inside[k] for k in ("event_id", "document_id", "tenant")} == {
        "event_id": "e1",
        "document_id": "d2",
        "tenant": "t1",
    }
    assert (inside["trace_id"], inside["span_id"]) == ("a" * 32, "b" * 16)
    assert warning["logger"] == "py.warnings" and "old API" in str(warning["message"])
    assert uncaught["level"] == "CRITICAL" and "boom" in str(uncaught["message"])


def test_gunicorns_own_loggers_write_json() -> None:
    (line,) = _lines(GUNICORN)
    assert line["logger"] == "gunicorn.error"
    assert line["level"] == "ERROR"
    assert line["message"] == "WORKER TIMEOUT (pid:42)"

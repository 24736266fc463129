"""Serving a function: functions-framework's app on granian, an HTTP server that holds up to
hostile clients (`sluice serve`).

functions-framework's own command serves with gunicorn's threaded worker, where a client that
sends half a request holds one of the few threads as long as it likes (eight such connections
took a function down), request lines of any length are read (its `limit_request_line` is 0),
and an after-request hook reads every request's whole body before answering (an
unauthenticated 256 MiB POST got its 401 after the last byte). granian (Rust, hyper) reads
requests on its own event loop, drops a request whose headers have not arrived within
`header_read_timeout`, bounds the request line and headers (`max_buffer_size`, else 431),
and hands the body to the app lazily, so a 401 or 413 is answered from the headers. The app is
functions-framework's, built as its command builds it (the function's `main.py` and target),
without the body-draining hook: `sluice.http` closes the connection instead when it answers
without reading a body. See docs/pipeline.md, "Serving".
"""

from __future__ import annotations

import os
from pathlib import Path

import functions_framework
from flask import Flask
from werkzeug.exceptions import HTTPException

from sluice.http import framework_error
from sluice.logs import dict_config

SERVER_LOGGERS = ("_granian", "granian.access")
HEADER_READ_TIMEOUT_MS = 10_000  # a request's line and headers must arrive within this
MAX_HEADER_BYTES = 64 * 1024  # request line and headers together, else 431


def function_app() -> Flask:
    """The Flask app of the function that FUNCTION_SOURCE and FUNCTION_TARGET name (granian's
    factory, run in its worker)."""
    app: Flask = functions_framework.create_app(  # type: ignore[no-untyped-call]
        target=os.environ["FUNCTION_TARGET"], source=os.environ["FUNCTION_SOURCE"]
    )
    hooks = app.after_request_funcs.get(None, [])
    if functions_framework.read_request in hooks:
        hooks.remove(functions_framework.read_request)
    app.register_error_handler(HTTPException, framework_error)  # JSON, not Flask's HTML
    return app


def serve(source: Path, target: str, host: str, port: int, threads: int, log_level: str) -> None:
    """Serve the function until SIGTERM or SIGINT (then finish the requests in flight)."""
    from granian import Granian
    from granian.constants import HTTPModes, Interfaces
    from granian.http import HTTP1Settings

    os.environ["FUNCTION_SOURCE"] = str(source.resolve())
    os.environ["FUNCTION_TARGET"] = target
    Granian(
        "sluice.serve:function_app",
        factory=True,
        address=host,
        port=port,
        interface=Interfaces.WSGI,
        http=HTTPModes.http1,  # `auto` never times out an idle connection
        websockets=False,
        workers=1,
        blocking_threads=threads,
        http1_settings=HTTP1Settings(
            header_read_timeout=HEADER_READ_TIMEOUT_MS, max_buffer_size=MAX_HEADER_BYTES
        ),
        workers_kill_timeout=25,
        log_dictconfig=dict_config(target.replace("_", "-"), log_level, SERVER_LOGGERS),
    ).serve()

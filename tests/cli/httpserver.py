"""A tiny real HTTP server for the command line's tests: it answers each request with what a
script says and records what it was sent."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass(frozen=True)
class Received:
    """One request as the server saw it."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass(frozen=True)
class Answer:
    """What to answer: a status, a JSON body, headers."""

    status: int = 200
    body: Any = None
    headers: tuple[tuple[str, str], ...] = ()


Script = Callable[[Received], Answer]


def error(status: int, code: str, message: str, **headers: str) -> Answer:
    """An answer in the APIs' error shape."""
    body = {"error": {"code": code, "message": message}}
    return Answer(status, body, tuple((k.replace("_", "-"), v) for k, v in headers.items()))


def submitted(received: Received, status: str = "accepted") -> Answer:
    """ingest's 202 for a raw file submission (`?id=`) or a JSON batch."""
    if "id" in received.query:
        doc_id = received.query["id"][0]
        return Answer(202, _submitted(doc_id, status))
    documents = received.json()["documents"]
    return Answer(202, {"documents": [_submitted(d["id"], status) for d in documents]})


def _submitted(doc_id: str, status: str) -> dict[str, str]:
    return {
        "id": doc_id,
        "version": "0" * 32,
        "status": status,
        "status_url": f"http://ingest/documents/{doc_id}",
    }


class ScriptedServer:
    """A threading HTTP server on a free port of 127.0.0.1 answering with `script`."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.received: list[Received] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> ScriptedServer:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # small answers without the delayed-ACK stall

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                parts = urlsplit(self.path)
                received = Received(
                    self.command,
                    parts.path,
                    parse_qs(parts.query),
                    {k.lower(): v for k, v in self.headers.items()},
                    self.rfile.read(length),
                )
                with server._lock:
                    server.received.append(received)
                answer = server.script(received)
                body = b"" if answer.body is None else json.dumps(answer.body).encode()
                self.send_response(answer.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                for name, value in answer.headers:
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_DELETE = _answer

            def log_message(self, format: str, *args: Any) -> None:
                pass  # quiet

        return Handler

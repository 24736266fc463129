"""The one HTTP client of the command line: searchapi's base URL, the API key as a bearer
token, retries with backoff on overload and connection failures, error answers as exceptions."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import httpx

from sluice_cli import __version__
from sluice_cli.errors import ApiError, AuthRefused, ServerUnavailable, Unreachable

RETRIED_STATUSES = frozenset({429, 502, 503, 504})
RETRY_AFTER_CAP = 60.0  # seconds: a Retry-After beyond this is not waited for in full
TIMEOUT = httpx.Timeout(75.0, connect=5.0)  # searchapi gives ingest 60 s before its 504


@dataclass
class RetryPolicy:
    """How often and how long to retry a request that failed in a way worth retrying.

    A 502, 503, 504 or a connection failure is tried `attempts` times in all; a 429 (the
    server sheds load) up to `busy_attempts` times. Between tries: the answer's `Retry-After`
    seconds when it gives them, else `base * 2**n` seconds (at most `cap`), with jitter."""

    attempts: int = 5
    busy_attempts: int = 30
    base: float = 0.5
    cap: float = 30.0
    sleep: Callable[[float], None] = time.sleep
    rng: random.Random = field(default_factory=random.Random)

    def delay(self, retry: int, retry_after: float | None) -> float:
        """Seconds to wait before retry number `retry` (0 for the first)."""
        if retry_after is not None:
            wait = min(retry_after, RETRY_AFTER_CAP)
            return wait + self.rng.uniform(0, min(1.0, wait / 10))
        backoff = min(self.cap, self.base * 2.0**retry)
        return backoff / 2 + self.rng.uniform(0, backoff / 2)


class Client:
    """searchapi at `url`, with `api_key` (if any) sent as `Authorization: Bearer`."""

    def __init__(
        self,
        url: str,
        api_key: str | None = None,
        *,
        retry: RetryPolicy | None = None,
        connections: int = 8,
    ) -> None:
        headers = {"User-Agent": f"sluice-cli/{__version__}", "Accept": "application/json"}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
        self.url = url
        self.retry = retry or RetryPolicy()
        self._http = httpx.Client(base_url=url, headers=headers, timeout=TIMEOUT, limits=limits)

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the connections."""
        self._http.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str | int] | None = None,
        json: Any = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """Send the request, retrying as the policy says; the 2xx answer, else raise
        `AuthRefused` (401, 403), `ApiError` (another 4xx, a 500 or 501) or
        `ServerUnavailable` (`Unreachable`, or still 429/502/503/504 after the retries)."""
        failures = busy = 0
        while True:
            try:
                response = self._http.request(
                    method, path, params=params, json=json, content=content, headers=headers
                )
            except httpx.TransportError as exc:
                failures += 1
                if failures >= self.retry.attempts:
                    raise Unreachable(
                        f"could not reach {self.url} ({type(exc).__name__}: {exc or 'no detail'})"
                        f" after {failures} attempts"
                    ) from exc
                self.retry.sleep(self.retry.delay(failures - 1, None))
                continue
            if response.is_success:
                return response
            if response.status_code not in RETRIED_STATUSES:
                raise error_of(response)
            if response.status_code == 429:
                busy += 1
                tries, limit = busy, self.retry.busy_attempts
            else:
                failures += 1
                tries, limit = failures, self.retry.attempts
            if tries >= limit:
                raise ServerUnavailable(f"{error_of(response)} (after {tries} attempts)")
            self.retry.sleep(self.retry.delay(tries - 1, retry_after(response)))

    def get(self, path: str, params: Mapping[str, str | int] | None = None) -> Any:
        """GET `path`; the answer's JSON."""
        return self.request("GET", path, params=params).json()

    def post(self, path: str, body: Any, params: Mapping[str, str | int] | None = None) -> Any:
        """POST `body` as JSON to `path`; the answer's JSON."""
        return self.request("POST", path, params=params, json=body).json()

    def delete(self, path: str, params: Mapping[str, str | int] | None = None) -> Any:
        """DELETE `path`; the answer's JSON."""
        return self.request("DELETE", path, params=params).json()


def retry_after(response: httpx.Response) -> float | None:
    """The answer's `Retry-After` in seconds, when it gives a number of them."""
    value = response.headers.get("Retry-After", "").strip()
    try:
        seconds = float(value)
    except ValueError:
        return None  # absent, or an HTTP date: the backoff applies
    return seconds if seconds >= 0 else None


def error_of(response: httpx.Response) -> ApiError:
    """The exception for an error answer, with the server's code and message."""
    code, message = "", response.reason_phrase or "error"
    try:
        body = response.json()
    except ValueError:
        body = None
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        code = str(error.get("code", ""))
        message = str(error.get("message", message))
        message += _details(error.get("details"))
    elif response.text.strip():
        message = response.text.strip()[:200]
    if response.status_code in (401, 403):
        return AuthRefused(response.status_code, code, message)
    return ApiError(response.status_code, code, message)


def _details(details: Any) -> str:
    """The fields a `validation_failed` answer names, as `(field: message; …)`."""
    if not isinstance(details, list):
        return ""
    parts = [
        f"{item.get('field')}: {item.get('message')}" if item.get("field") else item["message"]
        for item in details
        if isinstance(item, dict) and item.get("message")
    ]
    return f" ({'; '.join(parts)})" if parts else ""

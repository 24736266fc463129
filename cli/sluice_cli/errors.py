"""The command line's errors, each with the exit code it ends the command with."""

from __future__ import annotations

OK = 0
FAILED = 1
USAGE = 2
UNAVAILABLE = 3
AUTH = 4


class CliError(Exception):
    """An error the command reports in one line and exits with `exit_code`."""

    exit_code = FAILED


class UsageProblem(CliError):
    """The command line or the configuration is wrong (exit 2)."""

    exit_code = USAGE


class ApiError(CliError):
    """The server refused a request with an error answer (`{"error": {"code", "message"}}`):
    exit 1 for a 4xx, 3 for a 5xx that is not worth retrying."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}" if code else f"{status}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.exit_code = UNAVAILABLE if status >= 500 else FAILED


class AuthRefused(ApiError):
    """The server refused the API key (401) or the tenant it was asked for (403): exit 4."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(status, code, message)
        self.exit_code = AUTH


class ServerUnavailable(CliError):
    """The server could not be reached, or kept answering 429/502/503/504 through every retry
    (exit 3)."""

    exit_code = UNAVAILABLE


class Unreachable(ServerUnavailable):
    """No connection to the server through every retry (refused, a timeout, DNS): exit 3."""


def fatal(error: BaseException) -> bool:
    """Whether the error ends a whole run (every further request would fail the same way)."""
    return isinstance(error, AuthRefused | ServerUnavailable)

"""The admin API of model changes, behind the admin key (`models.admin_key`):

- `GET /v1/models`: the models Sluice ships, the active one, the change under way and its
  progress;
- `POST /v1/models/migrate` `{"to": NAME, "switch": true, "gate": {...}}`: start a change;
- `POST /v1/models/switch`: switch a change that waits (`"switch": false`, or a refused gate);
- `POST /v1/models/rollback`, `POST /v1/models/drop-old`.
"""

from __future__ import annotations

import hmac
from typing import Any

from flask import Request, Response
from pydantic import BaseModel, ConfigDict, Field

from sluice.codec import parse_json
from sluice.embedders.catalogue import HASHING, MODELS
from sluice.errors import Forbidden, Unauthorized
from sluice.http import FunctionApp, Route, bearer_token, json_response, read_body, require_json
from sluice.stores.models import Gate
from sluice_models.changes import ModelChanges

MAX_BODY_BYTES = 4 * 1024 * 1024  # a gate of 2,000 queries fits


class MigrateRequest(BaseModel):
    """What `POST /v1/models/migrate` takes."""

    model_config = ConfigDict(extra="forbid")

    to: str = Field(min_length=1, max_length=128)
    switch: bool = True  # switch as soon as every document is in (and the gate passed)
    gate: Gate | None = None


class ModelsApi:
    """The routes; every one needs the admin key."""

    def __init__(self, changes: ModelChanges, admin_key: str) -> None:
        self.changes = changes
        self.admin_key = admin_key.encode()

    def app(self, readiness: Any) -> FunctionApp:
        """The function's app."""
        return FunctionApp(
            "models",
            [
                Route("/v1/models", ("GET",), self.status),
                Route("/v1/models/migrate", ("POST",), self.migrate),
                Route("/v1/models/switch", ("POST",), self._simple(self.changes.switch)),
                Route("/v1/models/rollback", ("POST",), self._simple(self.changes.rollback)),
                Route("/v1/models/drop-old", ("POST",), self._simple(self.changes.drop_old)),
            ],
            readiness=readiness,
        )

    def status(self, request: Request) -> Response:
        """The state, the progress and the catalogue."""
        self._authorise(request)
        shipped = [
            {"name": c.name, "dim": c.dim, "version": c.version, "description": c.description}
            for c in MODELS.values()
        ]
        return json_response(200, {**self.changes.status(), "models": [HASHING, *shipped]})

    def migrate(self, request: Request) -> Response:
        """Start a model change."""
        self._authorise(request)
        require_json(request)
        body = MigrateRequest.model_validate(parse_json(read_body(request, MAX_BODY_BYTES)))
        return json_response(202, self.changes.migrate(body.to, body.gate, body.switch))

    def _simple(self, operation: Any) -> Any:
        def handle(request: Request) -> Response:
            self._authorise(request)
            return json_response(200, operation())

        return handle

    def _authorise(self, request: Request) -> None:
        if not self.admin_key:
            raise Forbidden(
                "the admin API is off: set models.admin_key (SLUICE_MODELS__ADMIN_KEY) or "
                "models.admin_key_file",
                code="admin_api_off",
            )
        presented = bearer_token(request)
        if presented is None:
            raise Unauthorized("the admin key is required: send 'Authorization: Bearer <key>'")
        if not hmac.compare_digest(presented, self.admin_key):
            raise Unauthorized("the admin key is not valid")

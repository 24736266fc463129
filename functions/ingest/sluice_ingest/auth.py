"""API keys: each maps to a tenant; with keys configured, every request must present one."""

from __future__ import annotations

import hmac

from flask import Request

from sluice.errors import SluiceError, Unauthorized
from sluice.events import DEFAULT_TENANT
from sluice.http import bearer_token


class Forbidden(SluiceError):
    """The request names a tenant other than its key's."""

    status = 403
    code = "forbidden"


class Authenticator:
    """Resolves the tenant of a request: from its key when keys are configured, else from the
    request (body or `?tenant=`), else `default`."""

    def __init__(self, keys: dict[str, str]) -> None:
        self.keys = [(key.encode(), tenant) for key, tenant in keys.items()]

    @property
    def enabled(self) -> bool:
        """Whether API keys are required."""
        return bool(self.keys)

    def tenant(self, request: Request, claimed: str | None = None) -> str:
        """The request's tenant; 401 without a valid key, 403 if it claims another tenant."""
        if not self.enabled:
            return claimed or DEFAULT_TENANT
        presented = bearer_token(request)
        if presented is None:
            raise Unauthorized("an API key is required: send 'Authorization: Bearer <key>'")
        tenant = None
        for key, key_tenant in self.keys:  # compare with every key: no timing hint
            if hmac.compare_digest(key, presented):
                tenant = key_tenant
        if tenant is None:
            raise Unauthorized("the API key is not valid")
        if claimed is not None and claimed != tenant:
            raise Forbidden(f"this key belongs to tenant {tenant!r}, not {claimed!r}")
        return tenant

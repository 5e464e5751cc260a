"""Who is asking: the tenant of a request, from its `Authorization: Bearer KEY` header and nothing else.

With keys in the key file, every `/v1/` route needs one: none, or one that is unknown, malformed, truncated
or revoked is a 401, a key of a disabled tenant a 403, an oversized header a 431. Without keys the gateway
listens on loopback only (the server refuses any other address) and every request is the `local` tenant.
The key itself is never logged or echoed back; errors say what was wrong, not what was sent.
"""

from __future__ import annotations

from fastapi import Request

from keystroke.domain.privacy.tenants import LOCAL, KeyStore, Tenant
from keystroke.errors import ForbiddenError, HeaderTooLargeError, UnauthorizedError

LOCAL_TENANT = Tenant(LOCAL)


class Authenticator:
    """`loopback`: the gateway listens on this machine only, so having no keys means single-user mode; a gateway
    listening beyond it refuses every request while no key is active (say, after the last was revoked)."""

    def __init__(self, keys: KeyStore | None, max_header_bytes: int, *, loopback: bool = True) -> None:
        self.keys = keys
        self.max_header_bytes = max_header_bytes
        self.loopback = loopback

    @property
    def open(self) -> bool:
        """No keys on a loopback gateway: single-tenant mode, every request is the `local` tenant."""
        return self.loopback and (self.keys is None or not self.keys.has_keys)

    def tenant(self, request: Request) -> Tenant:
        return self.of_header(request.headers.get("authorization"))

    def knows(self, name: str) -> bool:
        """Whether `name` is a tenant of this gateway: one of the key file's, or `local` without keys."""
        if self.open:
            return name == LOCAL
        return self.keys is not None and self.keys.tenant(name) is not None

    def is_admin(self, tenant: Tenant) -> bool:
        """Whether the tenant may see every tenant's telemetry and the gateway's metrics: an admin tenant's
        key, or anyone on a single-user (keyless, loopback) gateway."""
        return self.open or tenant.admin

    def of_header(self, header: str | None) -> Tenant:
        """The tenant of an `Authorization` header's value (a browser's WebSocket sends it in a message)."""
        if header is not None and len(header.encode("latin-1", "replace")) > self.max_header_bytes:
            raise HeaderTooLargeError(
                f"the Authorization header is over {self.max_header_bytes} bytes; send 'Bearer KEY'", "Authorization"
            )
        if self.open:
            return LOCAL_TENANT
        scheme, _, key = (header or "").partition(" ")
        if not header or scheme.lower() != "bearer" or not key.strip():
            raise UnauthorizedError(
                "send an API key as 'Authorization: Bearer KEY' (create one with `keystroke keys create --tenant "
                "NAME`)",
                "Authorization",
            )
        if self.keys is None:
            raise UnauthorizedError("this gateway has no API keys; create one with `keystroke keys create`")
        verdict = self.keys.authenticate(key.strip())
        if verdict.tenant is None:
            error = ForbiddenError if verdict.status == 403 else UnauthorizedError
            raise error(verdict.reason, "Authorization")
        return verdict.tenant

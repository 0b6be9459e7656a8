"""Bearer API keys of the REST API: create (shown once), list, revoke, and check a key.

A key is ``cohort_<token_id>_<secret>``. Only SHA-256 of the secret is stored: the secret has
256 random bits, so a fast hash is enough (no password stretching needed) and a stolen database
yields no usable key.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from cohort.errors import AuthenticationFailed, ErrorCode
from cohort.schemas.records import ApiTokenRecord
from cohort.schemas.tokens import CreateTokenReply, CreateTokenRequest
from cohort.server.state import ServerState

__all__ = ["TOKEN_PREFIX", "TokenService"]

TOKEN_PREFIX = "cohort"  # noqa: S105 - the key's fixed prefix, not a secret


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _refused(why: str) -> AuthenticationFailed:
    return AuthenticationFailed(
        f"API key refused: {why}",
        ErrorCode.UNAUTHORIZED,
        hint="Send 'Authorization: Bearer <key>' with a key from `cohort token create`.",
    )


class TokenService:
    """Create, list, revoke and authenticate API keys."""

    def __init__(self, state: ServerState) -> None:
        self.state = state

    def create(self, creator: str, req: CreateTokenRequest) -> CreateTokenReply:
        """Make a new key for ``req.role``; the reply is the only place the key appears."""
        token_id, secret = secrets.token_hex(8), secrets.token_urlsafe(32)
        now = self.state.clock()
        record = ApiTokenRecord(
            token_id=token_id,
            name=req.name,
            role=req.role,
            secret_sha256=_hash(secret),
            created_by=creator,
            created=now,
            expires=None if req.expires_in is None else now + req.expires_in,
        )
        self.state.store.add_api_token(record)
        return CreateTokenReply(token=f"{TOKEN_PREFIX}_{token_id}_{secret}", record=record)

    def list(self) -> list[ApiTokenRecord]:
        """Every key's record (never the keys)."""
        return self.state.store.list_api_tokens()

    def revoke(self, token_id: str) -> ApiTokenRecord:
        """Revoke a key at once; NOT_FOUND for an unknown id."""
        return self.state.store.revoke_api_token(token_id, now=self.state.clock())

    def authenticate(self, key: str) -> ApiTokenRecord:
        """The record of a valid key; UNAUTHORIZED for a malformed, unknown, wrong, revoked or
        expired one."""
        prefix, _, rest = key.partition("_")
        token_id, _, secret = rest.partition("_")
        if prefix != TOKEN_PREFIX or not token_id or not secret:
            raise _refused("not a Cohort API key")
        record = self.state.store.get_api_token(token_id)
        if record is None or not hmac.compare_digest(record.secret_sha256, _hash(secret)):
            raise _refused("unknown key")
        if record.revoked is not None:
            raise _refused("the key was revoked")
        if record.expires is not None and self.state.clock() >= record.expires:
            raise _refused("the key has expired")
        return record

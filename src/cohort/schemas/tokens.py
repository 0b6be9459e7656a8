"""Wire types of API-token management (``/admin/v1/tokens``) and the roles a token may carry."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from cohort.schemas.records import ApiTokenRecord

__all__ = [
    "ADMIN_TOKEN_ROLES",
    "CLIENT_TOKEN_ROLE",
    "TOKEN_ROLES",
    "CreateTokenReply",
    "CreateTokenRequest",
]

#: The admin certificate roles: what a key with one may do is the policy's (server/policy.py).
ADMIN_TOKEN_ROLES = ("project_admin", "org_admin", "lead", "member")
#: A training client's role: read everything, register itself, upload and validate updates;
#: no starting or stopping of training, no experiments.
CLIENT_TOKEN_ROLE = "client"  # noqa: S105 - a role name, not a secret
TOKEN_ROLES = (*ADMIN_TOKEN_ROLES, CLIENT_TOKEN_ROLE)


class CreateTokenRequest(BaseModel):
    """Ask for a new Bearer API key."""

    model_config = ConfigDict(extra="forbid")

    role: str = Field(pattern="^(" + "|".join(TOKEN_ROLES) + ")$")
    name: str = Field(default="", max_length=200, description="What the key is for.")
    expires_in: float | None = Field(
        default=None, gt=0, description="Seconds until the key stops working; None: never."
    )


class CreateTokenReply(BaseModel):
    """The new key (shown only here, never again) and its stored record."""

    token: str = Field(description="The Bearer key: send 'Authorization: Bearer <token>'.")
    record: ApiTokenRecord

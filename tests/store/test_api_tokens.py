"""The API-token part of the StateStore contract, run against every backend."""

from __future__ import annotations

import pytest

from cohort.errors import Conflict, ErrorCode, NotFound
from cohort.schemas.records import ApiTokenRecord
from cohort.store import StateStore

T0 = 1_700_000_000.5


def record(token_id: str = "abc123", **over: object) -> ApiTokenRecord:
    fields: dict[str, object] = {
        "token_id": token_id,
        "name": "ci",
        "role": "member",
        "secret_sha256": "f" * 64,
        "created_by": "admin@cohort.local",
        "created": T0,
        "expires": T0 + 60,
    }
    fields.update(over)
    return ApiTokenRecord.model_validate(fields)


def test_add_then_get_keeps_every_field_and_the_hash(store: StateStore) -> None:
    store.add_api_token(record())
    got = store.get_api_token("abc123")
    assert got == record()
    assert got is not None and got.secret_sha256 == "f" * 64
    assert store.get_api_token("nope") is None


def test_hash_is_never_serialised(store: StateStore) -> None:
    store.add_api_token(record())
    got = store.get_api_token("abc123")
    assert got is not None and "secret_sha256" not in got.model_dump()


def test_duplicate_id_is_conflict(store: StateStore) -> None:
    store.add_api_token(record())
    with pytest.raises(Conflict) as info:
        store.add_api_token(record(name="other"))
    assert info.value.code == ErrorCode.CONFLICT


def test_list_oldest_first_and_revoke_once(store: StateStore) -> None:
    store.add_api_token(record("b", created=T0 + 1))
    store.add_api_token(record("a", created=T0 + 2, expires=None))
    assert [r.token_id for r in store.list_api_tokens()] == ["b", "a"]
    first = store.revoke_api_token("b", now=T0 + 10)
    again = store.revoke_api_token("b", now=T0 + 20)
    assert first.revoked == again.revoked == T0 + 10  # the first revocation stands
    assert store.get_api_token("a") is not None and store.get_api_token("a").revoked is None  # type: ignore[union-attr]


def test_revoke_unknown_is_not_found(store: StateStore) -> None:
    with pytest.raises(NotFound) as info:
        store.revoke_api_token("missing", now=T0)
    assert info.value.code == ErrorCode.NOT_FOUND

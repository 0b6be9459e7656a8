"""The study registry and the audit log in the store, on every backend."""

from __future__ import annotations

import pytest

from cohort.errors import ErrorCode, NotFound
from cohort.schemas.studies import AuditRecord, StudySite
from cohort.store import SQLStore


def site(name: str, org: str = "org-a") -> StudySite:
    return StudySite(site=name, org=org)


def test_create_is_idempotent_and_the_creator_is_the_first_user(store: SQLStore) -> None:
    record, created = store.create_study("onco", created_by="ann", now=10.0)
    assert created and record.users == ["ann"] and record.sites == []
    again, created = store.create_study("onco", created_by="bob", now=11.0)
    assert not created and again.created_by == "ann" and again.created == 10.0


def test_enroll_and_remove_sites_report_what_changed(store: SQLStore) -> None:
    store.create_study("onco", created_by="ann", now=1.0)
    record, added, already = store.add_study_sites("onco", [site("s1"), site("s2")])
    assert (added, already) == (["s1", "s2"], [])
    record, added, already = store.add_study_sites("onco", [site("s2"), site("s3", "org-b")])
    assert (added, already) == (["s3"], ["s2"])
    assert record.sites == [site("s1"), site("s2"), site("s3", "org-b")]
    record, removed, absent = store.remove_study_sites("onco", ["s1", "s9"])
    assert (removed, absent) == (["s1"], ["s9"])
    assert record.site_names == {"s2", "s3"}


def test_users_and_delete(store: SQLStore) -> None:
    store.create_study("onco", created_by="ann", now=1.0)
    store.add_study_sites("onco", [site("s1")])
    assert store.set_study_user("onco", "bob", enrolled=True).users == ["ann", "bob"]
    assert store.set_study_user("onco", "bob", enrolled=True).users == ["ann", "bob"]
    assert store.set_study_user("onco", "ann", enrolled=False).users == ["bob"]
    store.create_study("other", created_by="cy", now=2.0)
    assert [s.name for s in store.list_studies()] == ["onco", "other"]
    gone = store.delete_study("onco")
    assert gone.users == ["bob"] and gone.site_names == {"s1"}
    assert [s.name for s in store.list_studies()] == ["other"]
    # a study made again under the same name starts empty
    fresh, created = store.create_study("onco", created_by="dee", now=3.0)
    assert created and fresh.sites == [] and fresh.users == ["dee"]


@pytest.mark.parametrize(
    "call",
    [
        lambda s: s.get_study("nope"),
        lambda s: s.delete_study("nope"),
        lambda s: s.add_study_sites("nope", [site("s1")]),
        lambda s: s.remove_study_sites("nope", ["s1"]),
        lambda s: s.set_study_user("nope", "ann", enrolled=True),
    ],
)
def test_unknown_study_is_study_not_found(store: SQLStore, call: object) -> None:
    assert callable(call)
    with pytest.raises(NotFound) as info:
        call(store)
    assert info.value.code == ErrorCode.STUDY_NOT_FOUND


def test_audit_log_is_newest_first_and_filters_by_user(store: SQLStore) -> None:
    for i, user in enumerate(["ann", "bob", "ann"]):
        store.add_audit(
            AuditRecord(time=float(i), user=user, org="o", role="lead", action="job.submit",
                        target="default", outcome="ok" if i else "refused", detail=f"#{i}")
        )  # fmt: skip
    entries = store.list_audit()
    assert [e.detail for e in entries] == ["#2", "#1", "#0"]
    assert all(e.id is not None for e in entries)
    assert [e.detail for e in store.list_audit(user="ann", limit=1)] == ["#2"]

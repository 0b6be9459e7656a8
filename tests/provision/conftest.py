"""Shared fixtures for the provisioning tests."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from cohort.provision import CertificateAuthority, PocLayout, prepare_poc


@pytest.fixture(scope="session")
def ca() -> CertificateAuthority:
    """One project CA for tests that only issue certificates (key generation is cheap anyway)."""
    return CertificateAuthority.create("proj")


@pytest.fixture
def poc(tmp_path: Path) -> PocLayout:
    """A fresh POC workspace with two sites."""
    return prepare_poc(tmp_path / "ws", 2)


def file_mode(path: Path) -> int:
    """The permission bits of ``path``."""
    return stat.S_IMODE(path.stat().st_mode)

"""The project CA: certificate contents, chains, validity, and private key files."""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from cryptography.x509.verification import (
    ExtensionPolicy,
    PolicyBuilder,
    Store,
    VerificationError,
)

from cohort.errors import ErrorCode, InvalidRequest
from cohort.provision import ROLES, CertificateAuthority, write_private_file

from .conftest import file_mode


def _attr(cert: x509.Certificate, oid: x509.ObjectIdentifier) -> str:
    values = cert.subject.get_attributes_for_oid(oid)
    assert len(values) == 1
    value = values[0].value
    assert isinstance(value, str)
    return value


def _eku(cert: x509.Certificate) -> list[x509.ObjectIdentifier]:
    return list(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)


def _lifetime(cert: x509.Certificate) -> dt.timedelta:
    return cert.not_valid_after_utc - cert.not_valid_before_utc


def _client_verifier(ca: CertificateAuthority) -> PolicyBuilder:
    # Web PKI rules demand a SAN on client certificates; ours identify by subject instead.
    return (
        PolicyBuilder()
        .store(Store([ca.cert]))
        .extension_policies(
            ca_policy=ExtensionPolicy.webpki_defaults_ca(), ee_policy=ExtensionPolicy.permit_all()
        )
    )


def test_root_ca_is_a_ten_year_self_signed_ca(ca: CertificateAuthority) -> None:
    ca.cert.verify_directly_issued_by(ca.cert)
    assert ca.cert.subject == ca.cert.issuer
    constraints = ca.cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    assert constraints.ca is True
    assert ca.cert.extensions.get_extension_for_class(x509.KeyUsage).value.key_cert_sign
    assert abs(_lifetime(ca.cert) - dt.timedelta(days=3650)) < dt.timedelta(minutes=10)
    assert _attr(ca.cert, NameOID.ORGANIZATION_NAME) == "proj"


@pytest.mark.parametrize("role", [r for r in ROLES if r != "server"])
def test_client_certificate_subject_eku_and_chain(ca: CertificateAuthority, role: str) -> None:
    issued = ca.issue("alice@example.org", "org-a", role)  # type: ignore[arg-type]
    cert = issued.cert
    cert.verify_directly_issued_by(ca.cert)
    assert _attr(cert, NameOID.COMMON_NAME) == "alice@example.org"
    assert _attr(cert, NameOID.ORGANIZATION_NAME) == "org-a"
    assert _attr(cert, NameOID.ORGANIZATIONAL_UNIT_NAME) == role
    assert _eku(cert) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    assert abs(_lifetime(cert) - dt.timedelta(days=365)) < dt.timedelta(minutes=10)
    verified = _client_verifier(ca).build_client_verifier().verify(cert, [])
    assert verified.chain == [cert, ca.cert]
    assert issued.cert.public_key() == issued.key.public_key()


def test_server_certificate_has_sans_and_server_auth(ca: CertificateAuthority) -> None:
    cert = ca.issue("server", "org", "server", server_hosts=("fl.example.org", "10.1.2.3")).cert
    # clientAuth as well: the server's job processes dial its API with the server kit
    assert _eku(cert) == [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert set(sans.get_values_for_type(x509.DNSName)) == {"localhost", "fl.example.org"}
    assert set(sans.get_values_for_type(x509.IPAddress)) == {
        ipaddress.ip_address("127.0.0.1"),
        ipaddress.ip_address("10.1.2.3"),
    }
    builder = PolicyBuilder().store(Store([ca.cert]))
    for subject in (
        x509.DNSName("localhost"),
        x509.DNSName("fl.example.org"),
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
    ):
        assert builder.build_server_verifier(subject).verify(cert, []) == [cert, ca.cert]
    with pytest.raises(VerificationError):
        builder.build_server_verifier(x509.DNSName("evil.example.org")).verify(cert, [])


def test_client_certificate_cannot_act_as_server(ca: CertificateAuthority) -> None:
    cert = ca.issue("site-1", "org", "site").cert
    with pytest.raises(x509.ExtensionNotFound):
        cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    with pytest.raises(VerificationError):
        PolicyBuilder().store(Store([ca.cert])).build_server_verifier(
            x509.DNSName("localhost")
        ).verify(cert, [])


def test_duplicate_server_hosts_are_listed_once(ca: CertificateAuthority) -> None:
    cert = ca.issue("server", "org", "server", server_hosts=("127.0.0.1", "localhost")).cert
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert len(list(sans)) == 2


def test_certificate_from_another_ca_does_not_chain(ca: CertificateAuthority) -> None:
    other = CertificateAuthority.create("other")
    cert = other.issue("site-1", "org", "site").cert
    with pytest.raises((InvalidSignature, ValueError, TypeError)):
        cert.verify_directly_issued_by(ca.cert)
    with pytest.raises(VerificationError):
        _client_verifier(ca).build_client_verifier().verify(cert, [])


def test_validity_is_configurable(ca: CertificateAuthority) -> None:
    cert = ca.issue("site-1", "org", "site", valid_days=30).cert
    assert abs(_lifetime(cert) - dt.timedelta(days=30)) < dt.timedelta(minutes=10)
    short_ca = CertificateAuthority.create("p", valid_days=2)
    assert abs(_lifetime(short_ca.cert) - dt.timedelta(days=2)) < dt.timedelta(minutes=10)
    assert cert.not_valid_before_utc <= dt.datetime.now(dt.UTC)


@pytest.mark.parametrize(
    ("name", "org", "role", "days"),
    [
        ("", "org", "site", 365),
        ("../evil", "org", "site", 365),
        ("a/b", "org", "site", 365),
        ("x" * 65, "org", "site", 365),
        ("site-1", "bad org", "site", 365),
        ("site-1", "org", "superuser", 365),
        ("site-1", "org", "site", 0),
    ],
)
def test_issue_rejects_bad_input(
    ca: CertificateAuthority, name: str, org: str, role: str, days: int
) -> None:
    with pytest.raises(InvalidRequest) as info:
        ca.issue(name, org, role, valid_days=days)  # type: ignore[arg-type]
    assert info.value.code == ErrorCode.INVALID_REQUEST
    assert info.value.hint


def test_save_and_load_round_trip_with_private_key_0600(tmp_path: Path) -> None:
    ca = CertificateAuthority.create("proj")
    cert_path, key_path = ca.save(tmp_path / "ca")
    assert (cert_path.name, key_path.name) == ("rootCA.pem", "rootCA.key")
    assert file_mode(key_path) == 0o600
    loaded = CertificateAuthority.load(tmp_path / "ca")
    assert loaded.cert == ca.cert
    assert loaded.key.private_numbers() == ca.key.private_numbers()
    # the loaded CA can still issue certificates that chain to the saved root
    loaded.issue("site-1", "org", "site").cert.verify_directly_issued_by(ca.cert)


def test_load_names_the_missing_file(tmp_path: Path) -> None:
    CertificateAuthority.create("proj").save(tmp_path)
    (tmp_path / "rootCA.key").unlink()
    with pytest.raises(InvalidRequest, match=r"rootCA\.key"):
        CertificateAuthority.load(tmp_path)


def test_load_rejects_garbage(tmp_path: Path) -> None:
    CertificateAuthority.create("proj").save(tmp_path)
    (tmp_path / "rootCA.pem").write_text("not a certificate")
    with pytest.raises(InvalidRequest):
        CertificateAuthority.load(tmp_path)


def test_private_file_is_created_0600_even_with_open_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        write_private_file(tmp_path / "secret", b"x")
    finally:
        os.umask(old)
    assert file_mode(tmp_path / "secret") == 0o600


def test_private_file_replaces_a_world_readable_file(tmp_path: Path) -> None:
    path = tmp_path / "secret"
    path.write_text("old")
    path.chmod(0o644)
    write_private_file(path, b"new")
    assert file_mode(path) == 0o600
    assert path.read_bytes() == b"new"

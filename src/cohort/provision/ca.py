"""The project certificate authority: one root CA per project, and the certificates it issues.

Every participant (server, site, admin) proves who it is with a certificate signed by the
project's root CA. The subject carries the identity the server authorizes on::

    CN=<name>, O=<org>, OU=<role>

Keys are EC P-256: small, fast to generate (a POC with many sites prepares in milliseconds) and
accepted by every TLS stack Cohort talks to.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal, get_args

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from cohort.errors import InvalidRequest

__all__ = [
    "CA_CERT_FILE",
    "CA_KEY_FILE",
    "CA_VALID_DAYS",
    "PARTICIPANT_VALID_DAYS",
    "ROLES",
    "CertificateAuthority",
    "IssuedCert",
    "Role",
    "validate_name",
    "write_private_file",
]

Role = Literal["server", "site", "project_admin", "org_admin", "lead", "member"]
ROLES: Final[tuple[Role, ...]] = get_args(Role)

CA_VALID_DAYS: Final = 3650
PARTICIPANT_VALID_DAYS: Final = 365
CA_CERT_FILE: Final = "rootCA.pem"
CA_KEY_FILE: Final = "rootCA.key"

# Names become folder names and certificate CNs: keep them to one safe path component and
# inside X.509's 64-character limit for CN/O.
_NAME_RE: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}$")
# Backdate notBefore a little so a peer whose clock runs slightly behind still accepts a
# certificate issued a moment ago.
_CLOCK_SKEW: Final = dt.timedelta(minutes=5)


def validate_name(value: str, what: str = "name") -> str:
    """Return ``value`` if it is a usable participant, org or project name, else raise.

    Raises:
        InvalidRequest: the name is empty, too long, or not a single safe path component.
    """
    if not _NAME_RE.fullmatch(value):
        raise InvalidRequest(
            f"invalid {what} {value!r}",
            hint="Use 1-64 characters: letters, digits and . _ @ + -, starting with a letter "
            "or digit.",
            details={"field": what, "value": value},
        )
    return value


def write_private_file(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` readable by the owner only (mode 0600).

    The file is created with mode 0600 in the ``open`` call itself, so the secret is never on
    disk with wider permissions, not even for an instant. An existing file is replaced.
    """
    path.unlink(missing_ok=True)  # O_CREAT keeps an old file's mode: start from scratch
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _host_san(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


@dataclass(frozen=True)
class IssuedCert:
    """A participant certificate with its private key."""

    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    @property
    def cert_pem(self) -> bytes:
        """The certificate, PEM encoded."""
        return self.cert.public_bytes(serialization.Encoding.PEM)

    @property
    def key_pem(self) -> bytes:
        """The private key, unencrypted PKCS#8 PEM."""
        return _key_pem(self.key)

    def write(self, cert_path: Path, key_path: Path) -> None:
        """Write the certificate (0644) and the key (0600)."""
        cert_path.write_bytes(self.cert_pem)
        write_private_file(key_path, self.key_pem)


@dataclass(frozen=True)
class CertificateAuthority:
    """A project's root CA: its self-signed certificate and signing key."""

    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    @classmethod
    def create(cls, project: str, *, valid_days: int = CA_VALID_DAYS) -> CertificateAuthority:
        """Make a new root CA for ``project`` (subject ``CN=<project> Root CA, O=<project>``).

        Raises:
            InvalidRequest: ``project`` is not a valid name or ``valid_days`` is not positive.
        """
        validate_name(project, "project")
        _check_days(valid_days)
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name(
            [
                x509.NameAttribute(NameOID.COMMON_NAME, f"{project} Root CA"[:64]),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, project),
            ]
        )
        now = dt.datetime.now(dt.UTC)
        ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - _CLOCK_SKEW)
            .not_valid_after(now + dt.timedelta(days=valid_days))
            # path_length=0: this CA signs participants only, never intermediate CAs.
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=False,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(ski, critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski),
                critical=False,
            )
            .sign(key, hashes.SHA256())
        )
        return cls(cert=cert, key=key)

    @property
    def cert_pem(self) -> bytes:
        """The root certificate, PEM encoded (what every kit ships as ``rootCA.pem``)."""
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def save(self, directory: Path) -> tuple[Path, Path]:
        """Write ``rootCA.pem`` and ``rootCA.key`` (0600) into ``directory``; return both paths."""
        directory.mkdir(parents=True, exist_ok=True)
        cert_path, key_path = directory / CA_CERT_FILE, directory / CA_KEY_FILE
        cert_path.write_bytes(self.cert_pem)
        write_private_file(key_path, _key_pem(self.key))
        return cert_path, key_path

    @classmethod
    def load(cls, directory: Path) -> CertificateAuthority:
        """Read a CA written by :meth:`save`.

        Raises:
            InvalidRequest: a file is missing or does not hold an EC certificate and key.
        """
        cert_path, key_path = directory / CA_CERT_FILE, directory / CA_KEY_FILE
        for path in (cert_path, key_path):
            if not path.is_file():
                raise InvalidRequest(
                    f"CA file missing: {path}",
                    hint="Point at the project's ca/ folder (it holds rootCA.pem and rootCA.key).",
                    details={"path": str(path)},
                )
        try:
            cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
            key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        except (ValueError, TypeError) as exc:
            raise InvalidRequest(
                f"cannot read the CA in {directory}: {exc}",
                hint="The CA files are damaged; provision the project again.",
                details={"path": str(directory)},
            ) from exc
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise InvalidRequest(
                f"the CA key in {key_path} is not an EC key",
                hint="Provision the project again with this version of Cohort.",
                details={"path": str(key_path)},
            )
        return cls(cert=cert, key=key)

    def issue(
        self,
        name: str,
        org: str,
        role: Role,
        *,
        server_hosts: tuple[str, ...] = (),
        valid_days: int = PARTICIPANT_VALID_DAYS,
    ) -> IssuedCert:
        """Issue a certificate with subject ``CN=name, O=org, OU=role``.

        A ``server`` certificate gets the serverAuth EKU and SubjectAlternativeNames for
        ``localhost``, ``127.0.0.1`` and every entry of ``server_hosts`` (IP or DNS name), so
        clients can check the host they dialed; it also gets clientAuth, for the server's own
        job processes calling back into its API. Every other role gets clientAuth only, so no
        site or admin certificate can pose as the server.

        Raises:
            InvalidRequest: a bad name, org or role, or a non-positive ``valid_days``.
        """
        validate_name(name, "name")
        validate_name(org, "org")
        if role not in ROLES:
            raise InvalidRequest(
                f"unknown role {role!r}",
                hint=f"Use one of: {', '.join(ROLES)}.",
                details={"field": "role", "value": role},
            )
        _check_days(valid_days)
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.COMMON_NAME, name),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
                x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, role),
            ]
        )
        now = dt.datetime.now(dt.UTC)
        ca_ski = self.cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self.cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - _CLOCK_SKEW)
            .not_valid_after(now + dt.timedelta(days=valid_days))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=False,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski),
                critical=False,
            )
        )
        if role == "server":
            # clientAuth too: the server's own job processes call back into its API over
            # mutual TLS with the server kit, and are authorized as role "server".
            eku = [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
            builder = builder.add_extension(
                x509.ExtendedKeyUsage(eku), critical=False
            ).add_extension(x509.SubjectAlternativeName(_server_sans(server_hosts)), critical=False)
        else:
            builder = builder.add_extension(
                x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False
            )
        return IssuedCert(cert=builder.sign(self.key, hashes.SHA256()), key=key)


def _server_sans(hosts: tuple[str, ...]) -> list[x509.GeneralName]:
    sans: list[x509.GeneralName] = [
        x509.DNSName("localhost"),
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
    ]
    for host in hosts:
        san = _host_san(host)
        if san not in sans:  # duplicates are legal but confuse people reading the cert
            sans.append(san)
    return sans


def _check_days(valid_days: int) -> None:
    if valid_days <= 0:
        raise InvalidRequest(
            f"validity must be at least one day, got {valid_days}",
            hint="Pass a positive number of days.",
            details={"field": "valid_days", "value": valid_days},
        )

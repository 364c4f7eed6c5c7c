"""A self-signed certificate for ``https://127.0.0.1`` redirect URIs (live mode needs HTTPS).

``cryptography`` makes a throwaway certificate authority and a leaf certificate for
``127.0.0.1``, ``::1`` and ``localhost`` (P-256 keys). The leaf key and chain are written 0600
into a 0700 folder; the authority's key is never written, so nothing can issue more
certificates later. The browser will warn once (the authority is not trusted) unless ``ca.pem``
is imported; the redirect still arrives.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import ssl
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from ..._fileio import atomic_write_text, ensure_private_dir

__all__ = ["LoopbackCertificate", "default_tls_dir", "loopback_certificate"]

_VALID_DAYS: Final = 365
_RENEW_MARGIN: Final = datetime.timedelta(days=7)
_CA_FILE: Final = "ca.pem"
_SERVER_FILE: Final = "server.pem"


def default_tls_dir() -> Path:
    """``<user config>/stripe-oauth-nb/tls``."""
    from platformdirs import user_config_path

    return user_config_path("stripe-oauth-nb", appauthor=False) / "tls"


@dataclass(frozen=True)
class LoopbackCertificate:
    """Paths of the stored certificate files, and TLS contexts built from them."""

    #: The authority's certificate (public): import it into a browser to silence the warning.
    ca_path: Path
    #: The server's private key and certificate chain (0600).
    server_path: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(str(self.server_path))
        return context

    def client_context(self) -> ssl.SSLContext:
        """A client context trusting only this authority (for tests and the CLI)."""
        return ssl.create_default_context(cafile=str(self.ca_path))


def _is_private(path: Path) -> bool:
    if os.name != "posix":
        return True
    return not stat.S_IMODE(path.stat().st_mode) & 0o077


def _still_valid(server_path: Path) -> bool:
    from cryptography import x509

    pem = server_path.read_bytes()
    start = pem.find(b"-----BEGIN CERTIFICATE-----")
    if start < 0:
        return False
    cert = x509.load_pem_x509_certificate(pem[start:])
    now = datetime.datetime.now(datetime.UTC)
    return bool(cert.not_valid_after_utc - _RENEW_MARGIN > now)


def loopback_certificate(folder: Path | None = None) -> LoopbackCertificate:
    """The stored loopback certificate in ``folder``, made (or renewed) when needed.

    A certificate is made again when the files are missing, unreadable, expiring within a
    week, or readable by other users (their key may have been copied).
    """
    folder = folder if folder is not None else default_tls_dir()
    cert = LoopbackCertificate(ca_path=folder / _CA_FILE, server_path=folder / _SERVER_FILE)
    try:
        if (
            cert.server_path.exists()
            and cert.ca_path.exists()
            and _is_private(cert.server_path)
            and _is_private(folder)
            and _still_valid(cert.server_path)
        ):
            return cert
    except (OSError, ValueError):
        pass  # unreadable or corrupt: make a new one below

    ensure_private_dir(folder)
    os.chmod(folder, 0o700)
    server_pem, ca_pem = _make_certificates()
    atomic_write_text(cert.server_path, server_pem)
    atomic_write_text(cert.ca_path, ca_pem)
    return cert


def _make_certificates() -> tuple[str, str]:
    """(leaf key + leaf certificate + authority certificate, authority certificate) as PEM."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.datetime.now(datetime.UTC)
    start, end = now - datetime.timedelta(minutes=5), now + datetime.timedelta(days=_VALID_DAYS)
    authority_key = ec.generate_private_key(ec.SECP256R1())
    authority_name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "stripe-oauth-nb loopback"),
            x509.NameAttribute(NameOID.COMMON_NAME, "stripe-oauth-nb loopback authority"),
        ]
    )
    authority = (
        x509.CertificateBuilder()
        .subject_name(authority_name)
        .issuer_name(authority_name)
        .public_key(authority_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
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
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(authority_key.public_key()), critical=False
        )
        .sign(authority_key, hashes.SHA256())
    )
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(authority_name)
        .public_key(leaf_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                    x509.IPAddress(ipaddress.ip_address("::1")),
                    x509.DNSName("localhost"),
                ]
            ),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(authority_key.public_key()),
            critical=False,
        )
        .sign(authority_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    key_pem = leaf_key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    chain = leaf.public_bytes(pem) + authority.public_bytes(pem)
    return (key_pem + chain).decode(), authority.public_bytes(pem).decode()

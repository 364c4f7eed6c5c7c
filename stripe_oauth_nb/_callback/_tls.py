"""A self-signed certificate for ``https://127.0.0.1`` redirect URIs (live mode needs HTTPS).

trustme makes a throwaway certificate authority and a leaf certificate for ``127.0.0.1`` and
``localhost``. The leaf key and chain are written 0600 into a 0700 folder; the authority's key
is never written, so nothing can issue more certificates later. The browser will warn once
(the authority is not trusted) unless ``ca.pem`` is imported; the redirect still arrives.
"""

from __future__ import annotations

import datetime
import os
import ssl
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from .._fileio import atomic_write_text, ensure_private_dir

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

    import trustme

    ensure_private_dir(folder)
    os.chmod(folder, 0o700)
    now = datetime.datetime.now(datetime.UTC)
    authority = trustme.CA(organization_name="stripe-oauth-nb loopback")
    leaf = authority.issue_cert(
        "127.0.0.1",
        "localhost",
        common_name="127.0.0.1",
        not_before=now - datetime.timedelta(minutes=5),
        not_after=now + datetime.timedelta(days=_VALID_DAYS),
    )
    chain = b"".join(blob.bytes() for blob in leaf.cert_chain_pems)
    atomic_write_text(cert.server_path, (leaf.private_key_pem.bytes() + chain).decode())
    atomic_write_text(cert.ca_path, authority.cert_pem.bytes().decode())
    return cert

"""Readiness for Stripe's app review: what submitting a public OAuth app needs on top of
:func:`~stripe_oauth_nb.manifest.check`.

Everything :func:`check` finds still counts (with the OAuth rules always on: public
distribution and ``oauth`` access are errors there already, and so is a permission without a
purpose). Publishing adds:

- ``publish.redirect-https``: every redirect URI is HTTPS; the plain-HTTP warnings of the OAuth
  rules (loopback or not) become this one error (keep loopback URIs in a development manifest);
- ``review.icon-size``: a wrong icon size becomes an error (the submission needs 300x300);
- ``publish.install-url``: the Marketplace install URL is given, HTTPS, on a public host;
- ``publish.install-callback`` (warning): the install page's ``/callback`` is not a redirect URI
  (right only if the page is not served by ``stripe-oauth-nb serve``).
"""

from __future__ import annotations

import dataclasses
import urllib.parse
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from .._errors import ManifestError
from ._checks import check, check_file
from ._document import Manifest
from ._findings import Finding, pointer
from ._rules import is_loopback_host

__all__ = ["check_publish", "check_publish_file"]

_REPLACED = ("oauth.redirect-http-loopback", "oauth.redirect-http")
_ESCALATED = ("review.icon-size",)


def _redirect_uris(doc: Mapping[str, Any]) -> list[str]:
    uris = doc.get("allowed_redirect_uris")
    return [u for u in uris if isinstance(u, str)] if isinstance(uris, list) else []


def _https_redirects(doc: Mapping[str, Any]) -> Iterator[Finding]:
    for index, uri in enumerate(_redirect_uris(doc)):
        if urllib.parse.urlsplit(uri).scheme.lower() == "http":
            yield Finding(
                pointer(["allowed_redirect_uris", index]),
                f"{uri!r} is plain HTTP: a published app sends live-mode authorization codes to "
                "its redirect URIs, which must all be HTTPS.",
                "error",
                "Use the https:// address of your install backend (its /callback), and keep "
                "loopback URIs in a separate development manifest.",
                code="publish.redirect-https",
            )


def _install_url(doc: Mapping[str, Any], install_url: str | None) -> Iterator[Finding]:
    if not install_url:
        yield Finding(
            "/",
            "No Marketplace install URL is given: Stripe's review form asks for the page that "
            "starts the install with an OAuth install link.",
            "error",
            "Pass --install-url https://your-site.example/ (the page `stripe-oauth-nb serve` "
            "serves behind your HTTPS proxy).",
            code="publish.install-url",
        )
        return
    try:
        parts = urllib.parse.urlsplit(install_url.strip())
    except ValueError:
        parts = urllib.parse.urlsplit("")
    if parts.scheme != "https" or not parts.hostname or is_loopback_host(parts.hostname):
        yield Finding(
            "/",
            f"The install URL {install_url!r} is not a public HTTPS address; Stripe's reviewers "
            "and installing accounts must be able to open it.",
            "error",
            "Give the https:// address of the install page on a public host.",
            code="publish.install-url",
        )
        return
    callback = install_url.strip().split("?", 1)[0].split("#", 1)[0].rstrip("/") + "/callback"
    if callback not in _redirect_uris(doc):
        yield Finding(
            pointer(["allowed_redirect_uris"]),
            f"The install page's callback {callback!r} is not an allowed redirect URI, so "
            "`stripe-oauth-nb serve` at that address could not receive the code.",
            "warning",
            f'Add "{callback}" to allowed_redirect_uris (ignore this if another backend '
            "serves your callback).",
            code="publish.install-callback",
        )


def _adjust(findings: list[Finding]) -> list[Finding]:
    kept: list[Finding] = []
    for finding in findings:
        if finding.code in _REPLACED:
            continue
        if finding.code in _ESCALATED:
            finding = dataclasses.replace(finding, severity="error")
        kept.append(finding)
    return kept


def _sorted(findings: list[Finding]) -> list[Finding]:
    return sorted(findings, key=lambda f: 0 if f.is_error else 1)


def check_publish(
    manifest: Manifest | Mapping[str, Any],
    *,
    install_url: str | None,
    base_dir: Path | None = None,
) -> list[Finding]:
    """Every finding of :func:`check` (OAuth rules on), adjusted and extended for review."""
    findings = _adjust(check(manifest, base_dir=base_dir, oauth=True))
    data = manifest.data if isinstance(manifest, Manifest) else manifest
    if isinstance(data, Mapping):
        findings += [*_https_redirects(data), *_install_url(data, install_url)]
    return _sorted(findings)


def check_publish_file(path: str | Path, *, install_url: str | None) -> list[Finding]:
    """:func:`check_publish` for a file (syntax findings included, as :func:`check_file`)."""
    path = Path(path)
    findings = _adjust(check_file(path, oauth=True))
    try:
        data = Manifest.load(path, lenient=True).data
    except ManifestError:
        return _sorted(findings)  # not JSON: the syntax findings say where
    findings += [*_https_redirects(data), *_install_url(data, install_url)]
    return _sorted(findings)

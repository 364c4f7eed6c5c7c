"""``manifest check --publish``: what submitting a public OAuth app for review needs."""

from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path

import pytest

from stripe_oauth_nb._cli import main
from stripe_oauth_nb.manifest import Manifest, check_publish, write_placeholder_icon

INSTALL_URL = "https://install.example.com/"
CALLBACK = "https://install.example.com/callback"


def _ready(folder: Path, **changes: object) -> Path:
    """A manifest ready for review in ``folder`` (with its icon), then ``changes`` applied."""
    manifest = Manifest.new(
        name="Reports Sync",
        id="com.example.reports",
        redirect_uris=[CALLBACK],
        permissions={"customer_read": "List customers for the monthly report."},
    )
    for key, value in changes.items():
        manifest.set(key, value)
    path = folder / "stripe-app.json"
    manifest.save(path)
    write_placeholder_icon(folder / "icon.png")
    return path


def _codes(path: Path, install_url: str | None = INSTALL_URL) -> dict[str, str]:
    findings = check_publish(Manifest.load(path), install_url=install_url)
    return {f.code: f.severity for f in findings}


def test_a_ready_manifest_passes_and_prints_the_install_url(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _ready(tmp_path)
    assert _codes(path) == {}
    assert main(["manifest", "check", str(path), "--publish", "--install-url", INSTALL_URL]) == 0
    out = capsys.readouterr().out
    assert "no problems found" in out
    assert f"Marketplace install URL for the submission form: {INSTALL_URL}" in out


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"distribution_type": "private"}, "oauth.distribution_type"),
        ({"stripe_api_access_type": "platform"}, "oauth.stripe_api_access_type"),
        (
            {"allowed_redirect_uris": ["http://127.0.0.1:8765/callback", CALLBACK]},
            "publish.redirect-https",
        ),
        ({"allowed_redirect_uris": ["http://example.com/callback"]}, "publish.redirect-https"),
        ({"permissions": [{"permission": "customer_read", "purpose": ""}]}, "schema.minLength"),
        ({"permissions": [{"permission": "customer_read"}]}, "schema.required"),
        (
            {"permissions": [{"permission": "customer_read", "purpose": "  "}]},
            "review.purpose-blank",
        ),
        ({"icon": "./missing.png"}, "review.icon-missing"),
    ],
)
def test_each_review_requirement_is_an_error(
    tmp_path: Path, change: dict[str, object], code: str
) -> None:
    codes = _codes(_ready(tmp_path, **change))
    assert codes.get(code) == "error", codes


def test_plain_http_redirects_give_one_error_not_a_warning_too(tmp_path: Path) -> None:
    path = _ready(tmp_path, allowed_redirect_uris=["http://127.0.0.1:8765/callback", CALLBACK])
    plain = {f.code for f in Manifest.load(path).check()}
    assert "oauth.redirect-http-loopback" in plain  # an ordinary check only warns
    codes = _codes(path)
    assert codes == {"publish.redirect-https": "error"}


def _png(path: Path, width: int, height: int) -> None:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    rows = b"".join(b"\x00" + b"\x00" * width for _ in range(height))
    body = chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + body)


def test_a_wrong_icon_size_is_an_error_for_review(tmp_path: Path) -> None:
    path = _ready(tmp_path)
    _png(tmp_path / "icon.png", 32, 32)
    assert {f.code: f.severity for f in Manifest.load(path).check()} == {
        "review.icon-size": "warning"
    }
    assert _codes(path) == {"review.icon-size": "error"}


@pytest.mark.parametrize(
    "install_url",
    [None, "", "http://install.example.com/", "https://127.0.0.1:8765/", "https:///nohost"],
)
def test_the_install_url_must_be_given_public_and_https(
    tmp_path: Path, install_url: str | None
) -> None:
    assert _codes(_ready(tmp_path), install_url) == {"publish.install-url": "error"}


def test_an_install_page_whose_callback_is_not_allowed_is_warned(tmp_path: Path) -> None:
    path = _ready(tmp_path)
    codes = _codes(path, "https://elsewhere.example.com/stripe")
    assert codes == {"publish.install-callback": "warning"}


def test_cli_without_install_url_fails_and_says_how(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _ready(tmp_path)
    assert main(["manifest", "check", str(path), "--publish"]) == 1
    out = capsys.readouterr().out
    assert "--install-url" in out
    assert "submission form" not in out


def test_cli_publish_json_lists_the_findings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _ready(tmp_path, allowed_redirect_uris=["http://127.0.0.1:8765/callback"])
    assert main(["manifest", "check", str(path), "--publish", "--json"]) == 1
    codes = {f["code"] for f in json.loads(capsys.readouterr().out)}
    assert {"publish.redirect-https", "publish.install-url"} <= codes


def test_cli_publish_on_broken_json_reports_the_syntax(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "stripe-app.json"
    path.write_text('{"id": "x",,}', encoding="utf-8")
    assert main(["manifest", "check", str(path), "--publish", "--install-url", INSTALL_URL]) == 1
    assert "line 1" in capsys.readouterr().out

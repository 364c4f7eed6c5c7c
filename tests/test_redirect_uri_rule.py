"""One redirect-URI rule: the manifest check and the install link give the same answer.

Each URI goes into a manifest's ``allowed_redirect_uris`` (is there an error finding for it?) and
into a test-mode install link that allows exactly it (is the link refused?). Both sides must
agree: a clean manifest whose link is then refused is the bug this table guards against.
"""

from __future__ import annotations

import copy
import json
import urllib.parse
from pathlib import Path
from typing import Any

import pytest
from _ports import free_port

from stripe_oauth_nb.errors import InstallLinkError
from stripe_oauth_nb.manifest import check
from stripe_oauth_nb.oauth import AttemptLog, build_install_link, start_authorization
from stripe_oauth_nb.sandbox import Sandbox

DATA = Path(__file__).parent / "data" / "manifests"
GOOD: dict[str, Any] = json.loads((DATA / "good_oauth.json").read_text(encoding="utf-8"))
CLIENT = "ca_AbCdEfGh12345678"

# (uri, usable): usable means a test-mode link can be built with it
TABLE: list[tuple[str, bool]] = [
    # the three the issue found: a clean manifest, then a refused link
    ("https://example.com/cb?x=1", False),
    ("https://user:pw@example.com/cb", False),
    ("https://example.com:0/cb", False),
    # usable
    ("https://example.com/cb", True),
    ("https://example.com:8443/cb", True),
    ("https://example.com/a/b/c", True),
    ("https://example.com/cb/", True),
    ("http://127.0.0.1:8765/callback", True),
    ("http://localhost:8765/callback", True),
    ("http://[::1]:8765/callback", True),
    ("http://example.com/callback", True),  # plain http elsewhere: a warning, not an error
    ("https://hub.example.org/hub/user-redirect/proxy/8765/callback", True),
    ("https://EXAMPLE.com/cb", True),
    ("https://example.com:65535/cb", True),
    # refused
    ("https://example.com", False),
    ("https://example.com/", False),
    ("myapp://cb/x", False),
    ("ftp://example.com/cb", False),
    ("HTTPS://example.com/cb", False),
    ("https://example.com/cb#x", False),
    ("https://example.com/cb#", False),
    ("https://example.com/cb?", False),
    ("https://example.com:99999/cb", False),
    ("https://example.com:abc/cb", False),
    ("https://user@example.com/cb", False),
    ("https:///cb", False),
    (" https://example.com/cb", False),
    ("https://example.com/cb ", False),
    ("https://example.com/c b", False),
    ("https://[::1/cb", False),
    ("https://example.com/" + "a" * 2100, False),
]


def _manifest_accepts(uri: str) -> bool:
    doc = copy.deepcopy(GOOD)
    doc["allowed_redirect_uris"] = [uri]
    findings = check(doc)
    return not any(
        f.severity == "error" and f.path.startswith("/allowed_redirect_uris") for f in findings
    )


def _link_accepts(uri: str) -> bool:
    try:
        build_install_link(
            mode="test",
            log=AttemptLog(),
            client_id=CLIENT,
            redirect_uri=uri,
            allowed_redirect_uris=[uri],
        )
    except InstallLinkError:
        return False
    return True


def test_the_table_has_thirty_uris() -> None:
    assert len({uri for uri, _ in TABLE}) == len(TABLE) >= 30


@pytest.mark.parametrize(("uri", "usable"), TABLE)
def test_manifest_check_and_install_link_agree(uri: str, usable: bool) -> None:
    assert (_manifest_accepts(uri), _link_accepts(uri)) == (usable, usable)


# -- parse once, pass the value ----------------------------------------------------------------
def test_an_authorization_reads_its_redirect_uri_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """start_authorization reads the redirect URI where it enters; the callback server, its
    endpoint and the install link receive the value, and none of them splits the text again."""
    uri = f"http://127.0.0.1:{free_port()}/callback"
    splits: list[str] = []
    real = urllib.parse.urlsplit

    def counting(url: Any, *args: Any, **kwargs: Any) -> Any:
        if url == uri:
            splits.append(url)
        return real(url, *args, **kwargs)

    with Sandbox(customers=0, redirect_uris=[uri]) as sb:
        settings = sb.settings(mode="test")
        monkeypatch.setattr(urllib.parse, "urlsplit", counting)
        link, server = start_authorization(
            settings, AttemptLog(), allowed_redirect_uris=[uri], redirect_uri=uri
        )
        monkeypatch.undo()
        assert server is not None
        try:
            assert server.endpoint.redirect.checked
            assert server.redirect_uri == link.redirect_uri == uri
        finally:
            server.stop()
    assert len(splits) == 1

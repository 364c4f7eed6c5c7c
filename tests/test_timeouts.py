"""Checklist item 14: every HTTP client the toolkit builds has explicit connect and read timeouts.

Each row of :data:`SITES` drives one place in ``stripe_oauth_nb/`` that builds an
``httpx.Client`` (directly, or through ``httpx.post``, which builds one inside) the way the toolkit
does, against a running sandbox. ``httpx.Client.__init__`` is wrapped to record the ``timeout``
argument of every client made. A site passes when it made at least one client, every client got
a ``timeout`` argument (leaving it out silently means httpx's own default), the client's connect
and read timeouts are finite numbers, and they are the timeouts that site promises (this catches
``httpx.post`` losing its ``timeout=``, since ``httpx.post`` then passes httpx's default itself).
:func:`test_every_client_site_is_in_the_table` keeps the table complete.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import stripe_oauth_nb
from stripe_oauth_nb._http import DEFAULT_TIMEOUT, httpx
from stripe_oauth_nb._settings import load_settings
from stripe_oauth_nb._target import Target, sandbox_refusal
from stripe_oauth_nb._tokenset import TokenSet
from stripe_oauth_nb.api import ApiClient
from stripe_oauth_nb.manifest import register_with_sandbox, write_placeholder_icon
from stripe_oauth_nb.sandbox import Sandbox, approve
from stripe_oauth_nb.tokens import MemoryTokenStore, TokenClient, TokenManager

PACKAGE = Path(stripe_oauth_nb.__file__).parent
GOOD_MANIFEST: dict[str, Any] = json.loads(
    (Path(__file__).parent / "data" / "manifests" / "good_oauth.json").read_text(encoding="utf-8")
)

#: Stands for "no ``timeout`` argument at all" in the record.
_MISSING = object()


@dataclass(frozen=True)
class Made:
    """One ``httpx.Client`` built while a site ran, and the ``timeout`` argument it received."""

    client: httpx.Client
    timeout: object


@pytest.fixture
def made(monkeypatch: pytest.MonkeyPatch) -> list[Made]:
    """Every ``httpx.Client`` built during the test, in order."""
    record: list[Made] = []
    original: Callable[..., None] = httpx.Client.__init__

    def recording(self: httpx.Client, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        record.append(Made(self, kwargs.get("timeout", _MISSING)))

    monkeypatch.setattr(httpx.Client, "__init__", recording)
    return record


@pytest.fixture
def install_link(sb: Sandbox) -> str:
    client_id = sb.demo_app.client_id("test")
    return f"{sb.marketplace_base}/oauth/v2/authorize?client_id={client_id}&state=st"


# --- the call sites ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Site:
    """A place that builds an HTTP client: its module, how to drive it, the timeout it promises."""

    name: str
    module: str  # path under stripe_oauth_nb/
    run: Callable[[Sandbox, Path, str], None]
    expected: httpx.Timeout


def _token_client(sb: Sandbox, tmp: Path, link: str) -> None:
    tokens = TokenSet.from_response(sb.mint_tokens("test"), obtained_at=sb.now())
    with TokenClient(sb.settings(token_store_path=tmp / "tokens.json")) as client:
        client.refresh(tokens)


_CUSTOM = httpx.Timeout(connect=1.5, read=7.5, write=7.5, pool=1.5)


def _token_client_custom(sb: Sandbox, tmp: Path, link: str) -> None:
    tokens = TokenSet.from_response(sb.mint_tokens("test"), obtained_at=sb.now())
    settings = sb.settings(token_store_path=tmp / "tokens.json")
    with TokenClient(settings, timeout=_CUSTOM) as client:
        client.refresh(tokens)


def _token_manager(sb: Sandbox, tmp: Path, link: str) -> None:
    store = MemoryTokenStore()
    store.save(
        TokenSet.from_response(sb.mint_tokens("test"), obtained_at=sb.now()), authorized=True
    )
    manager = TokenManager(sb.settings(token_store_path=tmp / "tokens.json"), store=store)
    try:
        manager.refresh(force=True)
    finally:
        manager.close()


def _api_client(sb: Sandbox, tmp: Path, link: str) -> None:
    store = MemoryTokenStore()
    store.save(
        TokenSet.from_response(sb.mint_tokens("test"), obtained_at=sb.now()), authorized=True
    )
    settings = sb.settings(token_store_path=tmp / "tokens.json")
    manager = TokenManager(settings, store=store)
    try:
        with ApiClient.from_settings(settings, manager) as api:
            api.get("/v1/account")
    finally:
        manager.close()


def _api_client_custom(sb: Sandbox, tmp: Path, link: str) -> None:
    key = sb.test.secret_key
    with ApiClient(httpx.BasicAuth(key, ""), base_url=sb.api_base, timeout=_CUSTOM) as api:
        api.get("/v1/account")


def _manifest_upload(sb: Sandbox, tmp: Path, link: str) -> None:
    write_placeholder_icon(tmp / "icon.png")
    register_with_sandbox(GOOD_MANIFEST, sb, base_dir=tmp)


def _manifest_upload_custom(sb: Sandbox, tmp: Path, link: str) -> None:
    write_placeholder_icon(tmp / "icon.png")
    register_with_sandbox(GOOD_MANIFEST, sb.api_base, base_dir=tmp, timeout=7.5)


def _approve(sb: Sandbox, tmp: Path, link: str) -> None:
    approve(link, follow=False)


def _sandbox_approve(sb: Sandbox, tmp: Path, link: str) -> None:
    sb.approve(link, follow=False, timeout=7.5)


def _serve_app(sb: Sandbox, tmp: Path, link: str) -> None:
    from stripe_oauth_nb.manifest import Manifest
    from stripe_oauth_nb.serve import ServeConfig, create_app

    write_placeholder_icon(tmp / "icon.png")
    manifest = Manifest(GOOD_MANIFEST, path=tmp / "stripe-app.json")
    settings = sb.settings(token_store_path=tmp / "tokens.json")
    config = ServeConfig.create(
        settings, manifest, public_url="https://reports.example.com/stripe", signing_key="k" * 40
    )
    create_app(config).state.http.close()


def _serve_visitor(sb: Sandbox, tmp: Path, link: str) -> None:
    from stripe_oauth_nb.serve import visit

    visit(sb.api_base + "/")  # no Install button there: the visit ends on the first page


def _target_attach(sb: Sandbox, tmp: Path, link: str) -> None:
    settings = load_settings(
        env_file=tmp / "none.env", environ={"STRIPE_OAUTH_NB_SANDBOX_URL": sb.api_base}
    )
    Target.open(settings)


def _sandbox_refusal(sb: Sandbox, tmp: Path, link: str) -> None:
    settings = sb.settings(mode="test", token_store_path=tmp / "tokens.json")
    assert sandbox_refusal(settings, link) is None  # the sandbox shows its consent page


SITES = [
    Site("token-client", "tokens/_client.py", _token_client, DEFAULT_TIMEOUT),
    Site("token-client-timeout", "tokens/_client.py", _token_client_custom, _CUSTOM),
    Site("token-manager", "tokens/_client.py", _token_manager, DEFAULT_TIMEOUT),
    Site("api-client", "api/_client.py", _api_client, DEFAULT_TIMEOUT),
    Site("api-client-timeout", "api/_client.py", _api_client_custom, _CUSTOM),
    Site("manifest-upload", "manifest/_sandbox_upload.py", _manifest_upload, httpx.Timeout(10.0)),
    Site(
        "manifest-upload-timeout",
        "manifest/_sandbox_upload.py",
        _manifest_upload_custom,
        httpx.Timeout(7.5),
    ),
    Site("approve", "sandbox/_browser.py", _approve, httpx.Timeout(5.0)),
    Site("sandbox-approve", "sandbox/_browser.py", _sandbox_approve, httpx.Timeout(7.5)),
    Site("serve-app", "serve/_app.py", _serve_app, DEFAULT_TIMEOUT),
    Site(
        "serve-visitor",
        "serve/_visitor.py",
        _serve_visitor,
        httpx.Timeout(30.0, connect=DEFAULT_TIMEOUT.connect),
    ),
    Site("target-attach", "_target.py", _target_attach, httpx.Timeout(5.0)),
    Site("sandbox-refusal", "_target.py", _sandbox_refusal, httpx.Timeout(5.0)),
]


def _finite(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


@pytest.mark.parametrize("site", SITES, ids=[s.name for s in SITES])
def test_every_http_client_has_explicit_connect_and_read_timeouts(
    site: Site, sb: Sandbox, tmp_path: Path, install_link: str, made: list[Made]
) -> None:
    site.run(sb, tmp_path, install_link)
    assert made, f"{site.name} built no httpx.Client: the table no longer drives that site"
    for one in made:
        assert one.timeout is not _MISSING, f"{site.name}: httpx.Client(...) without timeout="
        given = httpx.Timeout(one.timeout)  # type: ignore[arg-type]
        assert _finite(given.connect), f"{site.name}: connect timeout {given.connect!r}"
        assert _finite(given.read), f"{site.name}: read timeout {given.read!r}"
        built = one.client.timeout
        assert _finite(built.connect), built
        assert _finite(built.read), built
        assert built == site.expected, f"{site.name}: {built!r}, not {site.expected!r}"


# --- the table covers every site ---------------------------------------------------------------

#: A client built directly, or by one of httpx's module-level request functions.
_CLIENT_SITE = re.compile(
    r"\bhttpx2?\.(?:Client|AsyncClient|request|stream|get|options|head|post|put|patch|delete)\("
)


def _sites_in_source() -> Iterator[str]:
    for path in sorted(PACKAGE.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        for _ in _CLIENT_SITE.finditer(text):
            yield path.relative_to(PACKAGE).as_posix()


def test_every_client_site_is_in_the_table() -> None:
    found = list(_sites_in_source())
    assert found, "the pattern no longer finds any client: update _CLIENT_SITE"
    assert set(found) == {s.module for s in SITES}
    assert len(found) == len(set(found)), f"a module builds clients in two places: {found}"

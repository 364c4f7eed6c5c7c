"""Install links: client id or pasted Dashboard link, redirect URI checks, fresh recorded state."""

from __future__ import annotations

import math
import urllib.parse

import pytest

from stripe_oauth_nb._errors import InstallLinkError
from stripe_oauth_nb._settings import ModeCredentials, Settings
from stripe_oauth_nb.oauth._attempts import AttemptLog
from stripe_oauth_nb.oauth._install_link import (
    build_install_link,
    check_redirect_uri,
    install_link_from_settings,
    mask_state,
    new_state,
    state_mode,
)

REDIRECT = "http://127.0.0.1:8765/callback"
HTTPS_REDIRECT = "https://127.0.0.1:8765/callback"
ALLOWED = [REDIRECT, "http://localhost:8765/callback", HTTPS_REDIRECT]
CLIENT = "ca_AbCdEfGh12345678"


def _query(url: str) -> dict[str, list[str]]:
    return urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)


def test_link_from_client_id_has_client_redirect_and_fresh_state() -> None:
    log = AttemptLog()
    link = build_install_link(
        mode="test", log=log, client_id=CLIENT, redirect_uri=REDIRECT, allowed_redirect_uris=ALLOWED
    )
    parts = urllib.parse.urlsplit(link.url)
    assert (parts.scheme, parts.netloc, parts.path) == (
        "https",
        "marketplace.stripe.com",
        "/oauth/v2/authorize",
    )
    query = _query(link.url)
    assert query["client_id"] == [CLIENT]
    assert query["redirect_uri"] == [REDIRECT]
    state = query["state"][0]
    assert state == link.state.reveal()
    assert state.startswith("test.")
    # recorded: the log finds it, with the mode and redirect URI of the link
    found = log.find(state)
    assert (found.mode, found.redirect_uri, found.client_id) == ("test", REDIRECT, CLIENT)
    assert found.install_url == link.url


def test_state_has_at_least_128_random_bits_and_is_fresh_every_time() -> None:
    states = {new_state("test") for _ in range(200)}
    assert len(states) == 200
    for state in states:
        random_part = state.split(".", 1)[1]
        assert len(random_part) * 6 >= 128  # base64url: 6 bits per character
    assert math.log2(64) * len(new_state("live").split(".", 1)[1]) >= 256


@pytest.mark.parametrize(
    ("state", "mode"), [("test.abc", "test"), ("live.abc", "live"), ("other", None)]
)
def test_state_mode_reads_the_prefix(state: str, mode: str | None) -> None:
    assert state_mode(state) == mode


def test_repr_and_str_mask_the_state() -> None:
    link = build_install_link(
        mode="live",
        log=AttemptLog(),
        client_id=CLIENT,
        redirect_uri=HTTPS_REDIRECT,
        allowed_redirect_uris=ALLOWED,
    )
    secret = link.state.reveal()
    assert secret in link.url
    for text in (repr(link), str(link), link.masked_url, repr(link.attempt)):
        assert secret not in text
        assert secret[5:] not in text
    assert "state=live.…" in str(link)
    assert mask_state(secret) == "live.…"


@pytest.mark.parametrize(
    "pasted",
    [
        f"https://marketplace.stripe.com/oauth/v2/authorize?client_id={CLIENT}",
        f"https://marketplace.stripe.com/oauth/v2/chnlink_a1B2c3/authorize?client_id={CLIENT}",
        f"  https://marketplace.stripe.com/oauth/v2/authorize?client_id={CLIENT}&state=old  ",
        f"https://marketplace.stripe.com/oauth/v2/authorize?client_id={CLIENT}"
        "&redirect_uri=http%3A%2F%2F127.0.0.1%3A8765%2Fcallback#frag",
    ],
    ids=["authorize", "chnlink", "old-state-replaced", "own-redirect"],
)
def test_link_pasted_from_the_dashboard_is_normalised(pasted: str) -> None:
    log = AttemptLog()
    link = build_install_link(
        mode="test", log=log, pasted_link=pasted, allowed_redirect_uris=ALLOWED
    )
    parts = urllib.parse.urlsplit(link.url)
    assert parts.path == urllib.parse.urlsplit(pasted.strip()).path
    assert not parts.fragment
    query = _query(link.url)
    assert query["client_id"] == [CLIENT]
    assert query["redirect_uri"] == [REDIRECT]
    assert len(query["state"]) == 1
    assert query["state"][0] != "old"
    assert log.find(query["state"][0]).client_id == CLIENT


def test_pasted_link_keeps_unknown_parameters() -> None:
    link = build_install_link(
        mode="test",
        log=AttemptLog(),
        pasted_link=f"https://marketplace.stripe.com/oauth/v2/authorize?client_id={CLIENT}&x=1",
        redirect_uri=REDIRECT,
        allowed_redirect_uris=ALLOWED,
    )
    assert _query(link.url)["x"] == ["1"]


@pytest.mark.parametrize(
    ("pasted", "match"),
    [
        (f"https://evil.example/oauth/v2/authorize?client_id={CLIENT}", "points to"),
        (f"http://marketplace.stripe.com/oauth/v2/authorize?client_id={CLIENT}", "points to"),
        (f"https://marketplace.stripe.com/oauth/authorize?client_id={CLIENT}", "not an OAuth"),
        (
            f"https://marketplace.stripe.com/oauth/v2/chnlink_x/y/authorize?client_id={CLIENT}",
            "not an OAuth",
        ),
        ("https://marketplace.stripe.com/oauth/v2/authorize", "exactly one client_id"),
        (
            f"https://marketplace.stripe.com/oauth/v2/authorize?client_id={CLIENT}&client_id=ca_b",
            "exactly one client_id",
        ),
        (
            "https://marketplace.stripe.com/oauth/v2/authorize?client_id=notaclient",
            "client id",
        ),
        ("https://marketplace.stripe.com/oauth/v2/authorize?client_id=ca_a&&x", "cannot be read"),
        ("https://marketplace.stripe.com/" + "a" * 5000, "longer than"),
    ],
)
def test_bad_pasted_links_are_refused(pasted: str, match: str) -> None:
    log = AttemptLog()
    with pytest.raises(InstallLinkError, match=match):
        build_install_link(
            mode="test",
            log=log,
            pasted_link=pasted,
            redirect_uri=REDIRECT,
            allowed_redirect_uris=ALLOWED,
        )
    assert log.all() == []  # nothing recorded for a refused link


def test_pasted_link_for_another_client_is_refused() -> None:
    with pytest.raises(InstallLinkError, match="is for client"):
        build_install_link(
            mode="test",
            log=AttemptLog(),
            client_id="ca_Other123",
            pasted_link=f"https://marketplace.stripe.com/oauth/v2/authorize?client_id={CLIENT}",
            redirect_uri=REDIRECT,
            allowed_redirect_uris=ALLOWED,
        )


@pytest.mark.parametrize(
    ("redirect_uri", "mode", "match"),
    [
        ("http://127.0.0.1:8766/callback", "test", "not one of"),  # other port
        ("http://127.0.0.1:8765/callback/", "test", "not one of"),  # trailing slash
        ("http://127.0.0.1:8765/Callback", "test", "not one of"),  # case
        ("http://127.0.0.1:8765", "test", "not usable"),  # no path
        ("ftp://127.0.0.1:8765/callback", "test", "not usable"),
        ("http://127.0.0.1:99999/callback", "test", "not usable"),
        ("http://127.0.0.1:8765/callback#x", "test", "not usable"),
        (" http://127.0.0.1:8765/callback", "test", "not usable"),
        (REDIRECT, "live", "HTTPS"),
    ],
)
def test_redirect_uri_checks(redirect_uri: str, mode: str, match: str) -> None:
    with pytest.raises(InstallLinkError, match=match):
        check_redirect_uri(redirect_uri, ALLOWED, mode="live" if mode == "live" else "test")


LANDED_CODE = "ac_EXAMPLELz9Kq2Wm4Xr7Tb1Nc8Vd3Hf6"
LANDED_STATE = "test.Qm3vX9kL2pR7wZ4tY8nB1cD6fG0hJ5sA"


@pytest.mark.parametrize(
    "landed",
    [
        f"{REDIRECT}?code={LANDED_CODE}&state={LANDED_STATE}",
        f"{REDIRECT}?state={LANDED_STATE}&code={LANDED_CODE}&scope=stripe_apps",
        f"{REDIRECT}#code={LANDED_CODE}",
    ],
)
def test_a_landed_url_as_redirect_uri_is_refused_masked(landed: str) -> None:
    with pytest.raises(InstallLinkError) as info:
        check_redirect_uri(landed, ALLOWED, mode="test")
    message = str(info.value)
    assert "looks like the address the browser landed on" in message
    assert "Landed URL box" in message
    assert "the part before `?`" in message
    assert repr(REDIRECT) in message  # the part before ? is named
    for secret in (LANDED_CODE, LANDED_STATE):
        assert secret not in message
        assert all(secret not in str(arg) for arg in info.value.args)
    log = AttemptLog()
    with pytest.raises(InstallLinkError):
        build_install_link(
            mode="test",
            log=log,
            client_id=CLIENT,
            redirect_uri=landed,
            allowed_redirect_uris=None,  # refused even where no manifest is at hand
        )
    assert log.all() == []


def test_refusal_lists_the_allowed_uris() -> None:
    with pytest.raises(InstallLinkError) as info:
        check_redirect_uri("http://127.0.0.1:1/cb", ALLOWED, mode="test")
    for uri in ALLOWED:
        assert f"  - {uri}" in str(info.value)


def test_redirect_defaults_to_first_allowed_and_none_skips_the_local_check() -> None:
    link = build_install_link(
        mode="test", log=AttemptLog(), client_id=CLIENT, allowed_redirect_uris=ALLOWED
    )
    assert link.redirect_uri == ALLOWED[0]
    unchecked = build_install_link(
        mode="test",
        log=AttemptLog(),
        client_id=CLIENT,
        redirect_uri="http://127.0.0.1:9999/cb",
        allowed_redirect_uris=None,
    )
    assert unchecked.redirect_uri == "http://127.0.0.1:9999/cb"
    with pytest.raises(InstallLinkError, match="no allowed_redirect_uris"):
        build_install_link(
            mode="test", log=AttemptLog(), client_id=CLIENT, allowed_redirect_uris=[]
        )


@pytest.mark.parametrize(
    "base", ["http://marketplace.stripe.com", "ftp://x", "not a url", "http://10.0.0.1:80"]
)
def test_marketplace_base_must_be_https_or_loopback(base: str) -> None:
    with pytest.raises(InstallLinkError, match="marketplace address"):
        build_install_link(
            mode="test",
            log=AttemptLog(),
            client_id=CLIENT,
            redirect_uri=REDIRECT,
            allowed_redirect_uris=ALLOWED,
            marketplace_base=base,
        )


def test_the_record_decides_the_mode_and_settings_supply_the_client() -> None:
    settings = Settings(
        target="sandbox",
        mode="test",
        marketplace_base="http://127.0.0.1:4242/",
        test=ModeCredentials("test", None, CLIENT),
        live=ModeCredentials("live", None, "ca_Live12345678"),
        redirect_uri=HTTPS_REDIRECT,
    )
    log = AttemptLog()
    link = install_link_from_settings(settings, log, allowed_redirect_uris=ALLOWED, mode="live")
    assert link.url.startswith("http://127.0.0.1:4242/oauth/v2/authorize?client_id=ca_Live")
    assert log.find(link.state.reveal()).mode == "live"
    with pytest.raises(InstallLinkError, match="client id"):
        install_link_from_settings(
            settings.with_changes(test=ModeCredentials("test")),
            log,
            allowed_redirect_uris=ALLOWED,
            mode="test",
        )

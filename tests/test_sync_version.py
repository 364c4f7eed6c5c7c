"""One pinned Stripe API version: the default is the sandbox's, every request the toolkit makes
names it (``ApiClient``, validate, the sync, ``conn.stripe``), a malformed one is refused before
any request, and a sync will not mix two versions in one table."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from _sync_helpers import START, install, manager, sync_app

from stripe_oauth_nb._api import ApiClient, validate
from stripe_oauth_nb._errors import ConfigError, SyncConfigError
from stripe_oauth_nb._http import httpx
from stripe_oauth_nb._settings import STRIPE_API_VERSION, Settings, load_settings
from stripe_oauth_nb.sandbox import Sandbox

OTHER = "2025-03-31.basil"


@pytest.fixture
def world() -> Iterator[Sandbox]:
    with Sandbox(customers=12, rate_limit=False, start=START) as sb:
        yield sb


def test_the_default_is_the_version_the_sandbox_follows() -> None:
    from stripe_oauth_nb.sandbox._versions import API_VERSION, valid_version

    assert STRIPE_API_VERSION == API_VERSION
    assert Settings().api_version == API_VERSION
    assert valid_version(STRIPE_API_VERSION)


@pytest.mark.parametrize(
    "value",
    ["latest", "2026-13-01", "2026-02-30.dahlia", "2026-07-29.Dahlia", "2026-07-29.", "x 1", "1"],
)
def test_a_value_that_is_not_a_version_is_one_clear_error(value: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"STRIPE_API_VERSION=.*not a Stripe API version"):
        load_settings(tmp_path / "none.env", environ={"STRIPE_API_VERSION": value})


@pytest.mark.parametrize("value", ["2024-06-20", OTHER, "2026-07-29.dahlia"])
def test_versions_are_read_from_the_environment(value: str, tmp_path: Path) -> None:
    settings = load_settings(tmp_path / "none.env", environ={"STRIPE_API_VERSION": value})
    assert settings.api_version == value


def test_a_bad_version_is_refused_before_any_request() -> None:
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json={})

    with pytest.raises(ConfigError, match="not a Stripe API version"):
        ApiClient(
            httpx.BasicAuth("u", "p"),
            base_url="https://api.stripe.com",
            transport=httpx.MockTransport(handler),
            api_version="2026-07-29 dahlia",
        )
    with pytest.raises(ConfigError, match="not a Stripe API version"):
        Settings(api_version="today")
    assert sent == []


def test_api_client_and_validate_name_the_version(world: Sandbox) -> None:
    app = sync_app(world)
    settings, tokens = manager(world, app)
    account = install(world, tokens, app).account_id
    seen: list[str | None] = []

    def record(request: httpx.Request) -> None:
        seen.append(request.headers.get("Stripe-Version"))

    for version in (STRIPE_API_VERSION, OTHER):
        chosen = settings.with_changes(api_version=version)
        seen.clear()
        with ApiClient.from_settings(chosen, tokens, account_id=account) as client:
            client._http.event_hooks["request"].append(record)
            answer = client._http.get("/v1/customers", params={"limit": 1})
            assert answer.headers["Stripe-Version"] == version  # the sandbox answered in it
            report = validate(client)
        assert report.ok, report.summary()
        assert seen == [version] * 3


def test_the_official_client_names_the_version(world: Sandbox) -> None:
    pytest.importorskip("stripe")
    from stripe_oauth_nb._stripe_client import stripe_client

    app = sync_app(world)
    settings, tokens = manager(world, app)
    account = install(world, tokens, app).account_id
    for version in (STRIPE_API_VERSION, OTHER):
        client = stripe_client(settings.with_changes(api_version=version), tokens, account, "test")
        page = client.v1.customers.list({"limit": 2})
        assert page.last_response.headers["Stripe-Version"] == version
        assert len(list(page.auto_paging_iter())) == 12


@pytest.mark.slow
def test_a_sync_in_another_version_is_refused_until_full(world: Sandbox, tmp_path: Path) -> None:
    pytest.importorskip("dlt")
    from stripe_oauth_nb.sync import sync

    app = sync_app(world)
    settings, tokens = manager(world, app)
    install(world, tokens, app)
    db, work = tmp_path / "stripe.duckdb", tmp_path / "work"
    first = sync(settings, tokens, db=db, work_dir=work, resources=["customers", "invoices"])
    assert first.ok, first.summary()

    other = settings.with_changes(api_version=OTHER)
    before = dict(world.stats()["requests"])
    with pytest.raises(SyncConfigError) as refused:
        sync(other, tokens, db=db, work_dir=work, resources=["customers"])
    message = str(refused.value)
    assert f"Stripe API version {STRIPE_API_VERSION}" in message
    assert OTHER in message
    assert "--full" in message
    assert world.stats()["requests"] == before  # refused before any request

    # a table never loaded in the old version is no reason to refuse
    assert sync(other, tokens, db=db, work_dir=work, resources=["products"]).ok
    again = sync(other, tokens, db=db, work_dir=work, resources=["customers"], full=True)
    assert again.ok, again.summary()
    later = sync(other, tokens, db=db, work_dir=work, resources=["customers"])
    assert later.ok
    assert not any(t.full for t in later.tables)
    with pytest.raises(SyncConfigError, match=re.escape(OTHER)):  # now the old one is the other
        sync(settings, tokens, db=db, work_dir=work, resources=["customers"])

"""One pinned Stripe API version: the default is the sandbox's, every request the toolkit makes
names it (``ApiClient``, validate, the sync, ``conn.stripe``), a malformed one is refused before
any request, and a sync will not mix two versions in one table."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from _sync_helpers import START, install, manager, sync_app

from stripe_oauth_nb._errors import ConfigError, SyncConfigError
from stripe_oauth_nb._http import httpx
from stripe_oauth_nb._settings import STRIPE_API_VERSION, Settings, load_settings
from stripe_oauth_nb.api import ApiClient, validate
from stripe_oauth_nb.sandbox import Sandbox

OTHER = "2025-03-31.basil"
#: stripe-python's name of a service whose path is spelt otherwise.
PYTHON_NAMES = {"invoiceitems": "invoice_items"}


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
    from stripe_oauth_nb.api._stripe_client import stripe_client

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


def test_the_official_client_pages_every_new_list_and_sub_list_in_the_version(
    tmp_path: Path,
) -> None:
    """stripe-python's auto-paging, through ``conn.stripe``'s client, reads every resource the
    sync loads and every sub-list whole from the sandbox; each answer names the pinned version."""
    pytest.importorskip("stripe")
    from stripe_oauth_nb.api._stripe_client import stripe_client
    from stripe_oauth_nb.sandbox._world import LongLists
    from stripe_oauth_nb.sync import RESOURCES

    lists = LongLists(invoices=2, lines=25, subscriptions=2, items=12, credit_notes=1)
    with Sandbox(customers=8, rate_limit=False, start=START, long_lists=lists) as sb:
        app = sync_app(sb)
        settings, tokens = manager(sb, app)
        account = install(sb, tokens, app).account_id
        truth = sb.ground_truth(account)
        counts = sb.counts(account)
        client = stripe_client(settings, tokens, account, "test")
        versions: set[str] = set()

        def every(page: object) -> list[object]:
            versions.add(page.last_response.headers["Stripe-Version"])  # type: ignore[attr-defined]
            return list(page.auto_paging_iter())  # type: ignore[attr-defined]

        for resource in RESOURCES:
            if resource.snapshot or resource.per_parent is not None:
                continue
            service: object = client.v1
            for part in resource.path.removeprefix("/v1/").split("/"):
                service = getattr(service, PYTHON_NAMES.get(part, part))
            found = every(service.list(dict(resource.params)))  # type: ignore[attr-defined]
            assert len(found) == counts[resource.name], resource.name
        customers = every(client.v1.customers.list({"limit": 100}))
        methods = [
            m for c in customers for m in every(client.v1.customers.payment_methods.list(c.id))
        ]
        assert methods
        balance = client.v1.balance.retrieve()
        versions.add(balance.last_response.headers["Stripe-Version"])

        long_invoices = [i for i in truth["invoices"] if i["lines"] == 25]
        long_subs = [s for s in truth["subscriptions"] if s["items"] == 12]
        assert len(long_invoices) >= 2
        assert len(long_subs) >= 2
        for invoice in long_invoices:
            lines = every(client.v1.invoices.line_items.list(invoice["id"], {"limit": 4}))
            assert len(lines) == 25
        for sub in long_subs:
            items = every(client.v1.subscription_items.list({"subscription": sub["id"]}))
            assert len(items) == 12
        notes = every(client.v1.credit_notes.list())
        assert any(note.lines.has_more for note in notes)
        for note in notes:
            lines = every(client.v1.credit_notes.line_items.list(note.id))
            assert len(lines) == note.lines.total_count
        sessions = every(client.v1.checkout.sessions.list({"expand": ["data.line_items"]}))
        assert sessions
        for session in sessions:
            items = every(client.v1.checkout.sessions.line_items.list(session.id))
            assert len(items) == session.line_items.total_count
        assert versions == {STRIPE_API_VERSION}

"""Child tables are complete past Stripe's 10 embedded entries: a sync over real HTTP on loopback
against a small stand-in for Stripe's list rules (``_fake_lists``) whose invoices have up to 40
lines and subscriptions up to 15 items. Only parents whose embedded list has more cost a request;
a changed parent replaces its children, a deleted one takes them along; a parent whose lines
could not all be read is left out, reported, and read again by the next run. (The same against
the sandbox's seeded business: ``test_sync_analyses.py``.)"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from _fake_lists import FakeLists

from stripe_oauth_nb._http import httpx
from stripe_oauth_nb._masking import Secret
from stripe_oauth_nb._serving import ServerThread, bind
from stripe_oauth_nb._settings import STRIPE_API_VERSION, Settings
from stripe_oauth_nb._tokenset import TokenSet
from stripe_oauth_nb.sync import SyncReport, sync
from stripe_oauth_nb.tokens import MemoryTokenStore, TokenManager

pytest.importorskip("dlt")

ACCT = "acct_CHILDREN01"
T0 = 1_790_000_000
#: Lines per invoice and items per subscription: over 10 (has_more), exactly 10, under.
LINES = [25, 3, 25, 1, 40, 10, 11, 0, 25]
ITEMS = [12, 2, 15, 12, 1, 10]


def embed(entries: list[dict[str, Any]], url: str) -> dict[str, Any]:
    """A list as Stripe embeds it: the first 10 entries, ``has_more``, ``total_count``, ``url``."""
    return {
        "object": "list",
        "data": entries[:10],
        "has_more": len(entries) > 10,
        "total_count": len(entries),
        "url": url,
    }


def lines_of(invoice_id: str, count: int, tag: str = "") -> list[dict[str, Any]]:
    return [
        {
            "id": f"il_{invoice_id[3:]}{tag}_{k:03d}",
            "object": "line_item",
            "invoice": invoice_id,
            "amount": 100 * (k + 1),
            "quantity": 1 + k % 3,
            "metadata": {},
        }
        for k in range(count)
    ]


def items_of(sub_id: str, count: int) -> list[dict[str, Any]]:
    return [
        {
            "id": f"si_{sub_id[4:]}_{k:03d}",
            "object": "subscription_item",
            "subscription": sub_id,
            "created": T0 - k,  # (the fake lists newest first: the order given)
            "quantity": k + 1,
            "price": {"id": f"price_{k}", "unit_amount": 500, "currency": "usd"},
        }
        for k in range(count)
    ]


class Stripeish:
    """Invoices and subscriptions with their sub-lists, and events, in a :class:`FakeLists`."""

    def __init__(self) -> None:
        self.fake = FakeLists({"events": []})
        self.invoices: dict[str, dict[str, Any]] = {}
        self.lines: dict[str, list[dict[str, Any]]] = {}
        self.subscriptions: dict[str, dict[str, Any]] = {}
        self.items: dict[str, list[dict[str, Any]]] = {}
        self.events: list[dict[str, Any]] = []
        for n, count in enumerate(LINES):
            self.set_invoice(f"in_{n:04d}", lines_of(f"in_{n:04d}", count), T0 + n)
        for n, count in enumerate(ITEMS):
            sub_id = f"sub_{n:04d}"
            self.items[sub_id] = items_of(sub_id, count)
            self.subscriptions[sub_id] = {
                "id": sub_id,
                "object": "subscription",
                "created": T0 + n,
                "status": "active",
                "items": embed(self.items[sub_id], f"/v1/subscription_items?subscription={sub_id}"),
            }
            self.fake.set(f"subscription_items?subscription={sub_id}", self.items[sub_id])
        self.fake.set("subscriptions", list(self.subscriptions.values()))
        self.event("customer.created", {"id": "cus_1", "object": "customer", "created": T0})

    def set_invoice(self, invoice_id: str, lines: list[dict[str, Any]], created: int) -> None:
        self.lines[invoice_id] = lines
        url = f"/v1/invoices/{invoice_id}/lines"
        self.invoices[invoice_id] = {
            "id": invoice_id,
            "object": "invoice",
            "created": created,
            "total": sum(line["amount"] for line in lines),
            "lines": embed(lines, url),
        }
        self.fake.set(f"invoices/{invoice_id}/lines", lines)
        self.fake.set("invoices", list(self.invoices.values()))

    def delete_invoice(self, invoice_id: str) -> dict[str, Any]:
        gone = self.invoices.pop(invoice_id)
        del self.lines[invoice_id]
        self.fake.set("invoices", list(self.invoices.values()))
        return gone

    def event(self, kind: str, obj: dict[str, Any]) -> None:
        created = T0 + 1000 + len(self.events)
        self.events.append(
            {
                "id": f"evt_{len(self.events):04d}",
                "object": "event",
                "type": kind,
                "created": created,
                "data": {"object": obj},
            }
        )
        self.fake.set("events", self.events)

    def sub_list_requests(self) -> list[str]:
        return [r for r in self.fake.requests if "/lines" in r or "subscription_items" in r]


class _Asgi:
    """Serves a :class:`FakeLists` over HTTP; records every ``Stripe-Version`` it is sent."""

    def __init__(self, fake: FakeLists) -> None:
        self.fake = fake
        self.versions: set[str | None] = set()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        self.versions.add(headers.get("stripe-version"))
        url = f"http://fake{scope['path']}?{scope['query_string'].decode()}"
        answer = self.fake.handler(httpx.Request(scope["method"], url))
        start = {
            "type": "http.response.start",
            "status": answer.status_code,
            "headers": [(b"content-type", b"application/json")],
        }
        await send(start)
        await send({"type": "http.response.body", "body": answer.content})


@dataclass
class World:
    stripe: Stripeish
    server: _Asgi
    settings: Settings
    tokens: TokenManager
    db: Path
    work: Path

    def sync(self, **options: Any) -> SyncReport:
        return sync(
            self.settings,
            self.tokens,
            db=self.db,
            work_dir=self.work,
            resources=["invoices", "subscriptions"],
            rate_limit=False,
            **options,
        )

    def table(self, name: str, parent: str) -> dict[str, tuple[str, Any]]:
        """id -> (parent id, quantity) of a child table's rows."""
        import duckdb

        sql = f"SELECT id, {parent}, quantity FROM {name} WHERE account_id = ?"  # noqa: S608
        with duckdb.connect(str(self.db), read_only=True) as con:
            return {r[0]: (r[1], r[2]) for r in con.execute(sql, [ACCT]).fetchall()}

    def ids(self, name: str) -> set[str]:
        import duckdb

        with duckdb.connect(str(self.db), read_only=True) as con:
            sql = f"SELECT id FROM {name} WHERE account_id = ?"  # noqa: S608
            return {r[0] for r in con.execute(sql, [ACCT]).fetchall()}

    def expected_lines(self) -> dict[str, tuple[str, Any]]:
        return {
            line["id"]: (invoice_id, line["quantity"])
            for invoice_id, lines in self.stripe.lines.items()
            for line in lines
        }

    def expected_items(self) -> dict[str, tuple[str, Any]]:
        return {
            item["id"]: (sub_id, item["quantity"])
            for sub_id, items in self.stripe.items.items()
            for item in items
        }


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    stripe = Stripeish()
    app = _Asgi(stripe.fake)
    server = ServerThread(app, bind("127.0.0.1", 0), name="fake-stripe")
    server.start()
    try:
        settings = Settings(api_base=f"http://127.0.0.1:{server.port}")
        tokens = TokenManager(settings, MemoryTokenStore(), clock=time.time)
        tokens.store.save(
            TokenSet(
                access_token=Secret("rk_test_" + "a" * 24),
                refresh_token=Secret("rt_" + "b" * 24),
                account_id=ACCT,
                livemode=False,
                obtained_at=time.time(),
            ),
            authorized=True,
        )
        yield World(stripe, app, settings, tokens, tmp_path / "stripe.duckdb", tmp_path / "work")
    finally:
        server.stop()


@pytest.mark.slow
def test_every_line_and_item_is_loaded_with_one_request_per_parent_with_more(
    world: World,
) -> None:
    report = world.sync()
    assert report.ok, report.summary()
    assert world.table("invoice_lines", "invoice") == world.expected_lines()
    assert world.table("subscription_items", "subscription") == world.expected_items()
    assert len(world.expected_lines()) == sum(LINES)
    assert len(world.expected_items()) == sum(ITEMS)
    # a sub-list request for each parent whose embedded list has more (40 lines: 10 embedded,
    # 30 in one page of 100), none for the others
    with_more = sum(1 for n in LINES if n > 10) + sum(1 for n in ITEMS if n > 10)
    assert len(world.stripe.sub_list_requests()) == with_more
    requests = {t.table: t.requests for t in report.tables}
    assert requests["invoice_lines"] == sum(1 for n in LINES if n > 10)
    assert requests["subscription_items"] == sum(1 for n in ITEMS if n > 10)
    assert world.server.versions == {STRIPE_API_VERSION}

    # the parent keeps its list without the entries: where they are, and how many
    import duckdb

    with duckdb.connect(str(world.db), read_only=True) as con:
        stored = con.execute("SELECT lines FROM invoices WHERE id = 'in_0000'").fetchone()
    assert stored is not None
    assert json.loads(stored[0]) == {
        "object": "list",
        "total_count": 25,
        "url": "/v1/invoices/in_0000/lines",
    }


def test_a_changed_parent_replaces_its_children_and_a_deleted_one_takes_them_along(
    world: World,
) -> None:
    assert world.sync().ok
    stripe = world.stripe
    old_lines = {line["id"] for line in stripe.lines["in_0000"]}
    # in_0000 now has 12 other lines; in_0002 is deleted; in_0100 is new with 25 lines;
    # in_0004 (40 lines) changes twice: to 8 of its lines, then to 3 (the newest version wins)
    stripe.set_invoice("in_0000", lines_of("in_0000", 12, tag="b"), T0)
    stripe.event("invoice.updated", stripe.invoices["in_0000"])
    stripe.event("invoice.deleted", stripe.delete_invoice("in_0002"))
    stripe.set_invoice("in_0100", lines_of("in_0100", 25), T0 + 500)
    stripe.event("invoice.created", stripe.invoices["in_0100"])
    stripe.set_invoice("in_0004", lines_of("in_0004", 40)[:8], T0 + 4)
    stripe.event("invoice.updated", stripe.invoices["in_0004"])
    stripe.set_invoice("in_0004", lines_of("in_0004", 40)[:3], T0 + 4)
    stripe.event("invoice.updated", stripe.invoices["in_0004"])
    stripe.fake.requests.clear()

    report = world.sync()
    assert report.ok, report.summary()
    assert not any(t.full for t in report.tables)
    lines = world.table("invoice_lines", "invoice")
    assert lines == world.expected_lines()
    assert not old_lines & lines.keys()
    assert not any(parent == "in_0002" for parent, _ in lines.values())
    assert world.ids("invoices") == set(stripe.invoices)
    counts = {t.table: t for t in report.tables}
    assert counts["invoice_lines"].deleted == 25 + 25 + 37  # in_0000, in_0002, in_0004
    assert counts["invoice_lines"].inserted == 12 + 25
    # sub-lists: in_0000 (12 lines) and in_0100 (25) have more than they embed
    assert len(stripe.sub_list_requests()) == 2


@pytest.mark.slow
def test_a_parent_whose_lines_could_not_all_be_read_is_left_out_and_read_next_run(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from stripe_oauth_nb.sync import _sync

    monkeypatch.setattr(_sync, "MAX_RETRIES", 1)  # a 429, retried once, and again a 429
    stripe = world.stripe
    stripe.fake.fail["invoices/in_0002/lines"] = [429, 429]
    stripe.fake.fail["subscription_items?subscription=sub_0003"] = [503, 503]

    first = world.sync()
    assert not first.ok
    tables = {t.table: t for t in first.tables}
    assert tables["invoices"].incomplete == ["in_0002"]
    assert tables["subscriptions"].incomplete == ["sub_0003"]
    summary = first.summary()
    assert "1 left out: their nested lists could not be read whole" in summary
    assert "next sync reads them again" in summary
    # not written half: neither the parent nor any of its lines
    assert "in_0002" not in world.ids("invoices")
    assert not any(p == "in_0002" for p, _ in world.table("invoice_lines", "invoice").values())
    assert "sub_0003" not in world.ids("subscriptions")
    expected = {k: v for k, v in world.expected_lines().items() if v[0] != "in_0002"}
    assert world.table("invoice_lines", "invoice") == expected

    stripe.fake.requests.clear()
    second = world.sync()
    assert second.ok, second.summary()
    assert world.table("invoice_lines", "invoice") == world.expected_lines()
    assert world.table("subscription_items", "subscription") == world.expected_items()
    assert world.ids("invoices") == set(stripe.invoices)
    # read again by id, with its sub-list; nothing else was listed again
    assert sorted(r for r in stripe.fake.requests if r.startswith(("invoices", "subscr"))) == [
        "invoices/in_0002",
        "invoices/in_0002/lines",
        "subscription_items?subscription=sub_0003",
        "subscriptions/sub_0003",
    ]

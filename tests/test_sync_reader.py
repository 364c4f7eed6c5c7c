"""The sync's reader: concurrent ``created`` windows read every object exactly once."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
from _fake_lists import FakeLists

from stripe_oauth_nb._http import httpx
from stripe_oauth_nb.api import ApiClient
from stripe_oauth_nb.sync._reader import Plan, Reader
from stripe_oauth_nb.sync._resources import select
from stripe_oauth_nb.sync._spill import Spill

pytest.importorskip("pyarrow")


def objects(kind: str, n: int, created: list[int]) -> list[dict[str, Any]]:
    return [
        {"id": f"{kind[:3]}_{i:06d}", "object": kind, "created": c, "metadata": {"n": i}}
        for i, c in enumerate(created)
    ]


def read(
    fake: FakeLists, tmp_path: Path, names: list[str], **options: Any
) -> tuple[Reader, dict[str, Spill]]:
    client = ApiClient(
        httpx.Auth(), base_url="http://127.0.0.1:9", transport=httpx.MockTransport(fake.handler)
    )
    plans = {r.name: Plan(r) for r in select(names)}
    tables = [n for p in plans.values() for n in (p.resource.name, *p.resource.child_tables)]
    spills = {name: Spill(tmp_path / name) for name in tables}
    ready: list[str] = []
    reader = Reader(
        client, "acct_EXAMPLE", False, plans, spills, None, on_ready=ready.append, **options
    )
    reader.run()
    assert sorted(ready) == sorted(names)
    return reader, spills


def spilled_ids(spill: Spill) -> list[str]:
    return [i for t in spill.tables() for i in t.column("id").to_pylist()]


T0 = 1_700_000_000
rng = random.Random(7)
DISTRIBUTIONS = {
    "uniform over a year": sorted(
        rng.randrange(1_700_000_000, 1_731_536_000) for _ in range(2_345)
    ),
    "all in one second": [1_700_000_000] * 1_234,
    "growing": sorted(1_731_536_000 - int(rng.expovariate(1 / 86_400)) for _ in range(2_000)),
    "two clusters": [1_600_000_000 + i % 7 for i in range(900)]
    + [1_730_000_000 + i for i in range(900)],
    "empty": [],
}


@pytest.mark.parametrize("shape", sorted(DISTRIBUTIONS))
def test_every_object_is_read_once(shape: str, tmp_path: Path) -> None:
    created = DISTRIBUTIONS[shape]
    fake = FakeLists({"charges": objects("charge", len(created), created)})
    reader, spills = read(fake, tmp_path, ["charges"], workers=8, max_windows=6)
    ids = spilled_ids(spills["charges"])
    assert len(ids) == len(created)
    assert len(set(ids)) == len(created)
    result = reader.results["charges"]
    assert result.error is None
    # at most one partly filled page per window, plus the first page
    needed = max(-(-len(created) // 100), 1)
    assert result.requests <= needed + result.windows + 1
    if shape == "uniform over a year":
        assert result.windows > 1  # the resource was read as concurrent windows
        assert result.newest == max(created)


def test_resources_are_read_together_and_rows_carry_account_and_mode(tmp_path: Path) -> None:
    fake = FakeLists(
        {
            "customers": objects("customer", 250, list(range(1_700_000_000, 1_700_000_250))),
            "prices": objects("price", 3, [1_700_000_000, 1_700_000_001, 1_700_000_002]),
            "subscriptions": objects("subscription", 0, []),
        }
    )
    _, spills = read(fake, tmp_path, ["customers", "prices", "subscriptions"])
    assert len(spilled_ids(spills["customers"])) == 250
    table = next(spills["prices"].tables())
    assert set(table.column("account_id").to_pylist()) == {"acct_EXAMPLE"}
    assert set(table.column("livemode").to_pylist()) == {False}
    assert table.column("metadata").to_pylist()[0].startswith("{")
    assert "metadata" in spills["prices"].json_columns
    assert list(spills["subscriptions"].tables()) == []


def test_a_failing_resource_is_reported_and_the_others_load(tmp_path: Path) -> None:
    fake = FakeLists(
        {"customers": objects("customer", 120, [1_700_000_000 + i for i in range(120)])}
    )
    reader, spills = read(fake, tmp_path, ["customers", "disputes"])
    assert len(spilled_ids(spills["customers"])) == 120
    assert reader.results["disputes"].error is not None
    assert "404" in (reader.results["disputes"].error or "")


def test_events_are_read_in_windows_and_the_newest_version_of_an_object_wins(
    tmp_path: Path,
) -> None:
    from stripe_oauth_nb.sync._reader import LIST_SEQ, event_seq

    # 3 customers changed many times over a month, two events in one second for cus_000001
    events = []
    for n in range(900):
        who = f"cus_{n % 3:06d}"
        events.append(
            {
                "id": f"evt_{n:05d}",
                "object": "event",
                "type": "customer.updated",
                "created": T0 + n * 3000,
                "data": {"object": {"id": who, "object": "customer", "created": T0, "name": n}},
            }
        )
    last = T0 + 899 * 3000
    events.append(
        {
            "id": "evt_last",
            "object": "event",
            "type": "customer.deleted",
            "created": last,
            "data": {"object": {"id": "cus_000002", "object": "customer", "created": T0}},
        }
    )
    fake = FakeLists({"events": events, "customers": []})
    client = ApiClient(
        httpx.Auth(), base_url="http://127.0.0.1:9", transport=httpx.MockTransport(fake.handler)
    )
    plans = {r.name: Plan(r, since=T0, events_since=T0) for r in select(["customers"])}
    spills = {name: Spill(tmp_path / name) for name in plans}
    reader = Reader(client, "acct_EXAMPLE", False, plans, spills, T0, workers=8)
    reader.run()
    assert fake.requests.count("events") >= 10
    rows = [r for t in spills["customers"].tables() for r in t.to_pylist()]
    assert len(rows) == len(events)  # every event became a row; the merge keeps the newest
    newest: dict[str, dict[str, object]] = {}
    for row in rows:
        if row["id"] not in newest or row["_sync_seq"] > newest[row["id"]]["_sync_seq"]:
            newest[row["id"]] = row
    assert newest["cus_000000"]["name"] == 897
    assert newest["cus_000001"]["name"] == 898
    assert newest["cus_000002"]["_sync_deleted"] is True  # deleted in the same second as n=899
    assert all(int(r["_sync_seq"]) < LIST_SEQ for r in rows)
    assert event_seq(T0, 0) > event_seq(T0, 1)  # listed first in a second: newer
    assert event_seq(T0 + 1, 5) > event_seq(T0, 0)


def _event(n: int, created: int, who: str, kind: str = "customer.updated") -> dict[str, Any]:
    return {
        "id": f"evt_{n:06d}",
        "object": "event",
        "type": kind,
        "created": created,
        "data": {"object": {"id": who, "object": "customer", "created": T0, "name": n}},
    }


def _newest(spill: Spill) -> dict[str, dict[str, Any]]:
    newest: dict[str, dict[str, Any]] = {}
    for row in (r for t in spill.tables() for r in t.to_pylist()):
        if row["id"] not in newest or row["_sync_seq"] > newest[row["id"]]["_sync_seq"]:
            newest[row["id"]] = row
    return newest


def test_a_window_split_mid_second_keeps_the_order_of_that_seconds_events(
    tmp_path: Path,
) -> None:
    # an event every 10 s, and seconds of 250 events each on one customer: pages end inside
    # those seconds, and the window splits there; the last event of each second must win
    events = [_event(n, T0 + n * 10, f"cus_{n % 5:06d}") for n in range(3000)]
    busy = [T0 + 10 * k + 5 for k in range(100, 3000, 400)]
    for s, second in enumerate(busy):
        events += [_event(10_000 * (s + 1) + i, second, f"cus_busy{s}") for i in range(250)]
    fake = FakeLists({"events": events, "customers": []})
    client = ApiClient(
        httpx.Auth(), base_url="http://127.0.0.1:9", transport=httpx.MockTransport(fake.handler)
    )
    plans = {"customers": Plan(select(["customers"])[0], T0, T0, read_new=False)}
    spills = {"customers": Spill(tmp_path / "customers")}
    reader = Reader(client, "acct_EXAMPLE", False, plans, spills, T0, workers=8, max_windows=6)
    reader.run()
    assert fake.requests.count("customers") == 0  # the events bring new objects too
    newest = _newest(spills["customers"])
    for s in range(len(busy)):
        assert newest[f"cus_busy{s}"]["name"] == 10_000 * (s + 1) + 249


def test_the_first_page_of_events_is_not_asked_for_again(tmp_path: Path) -> None:
    # created then deleted, created then updated, within the events read: the newest wins
    events = [_event(n, T0 + n, f"cus_{n % 7:06d}") for n in range(450)]
    events.append(_event(1000, T0 + 500, "cus_new", "customer.created"))
    events.append(_event(1001, T0 + 501, "cus_new", "customer.deleted"))
    events.append(_event(1002, T0 + 502, "cus_kept", "customer.created"))
    events.append(_event(1003, T0 + 503, "cus_kept", "customer.updated"))
    fake = FakeLists({"events": events, "customers": []})
    client = ApiClient(
        httpx.Auth(), base_url="http://127.0.0.1:9", transport=httpx.MockTransport(fake.handler)
    )
    first = client.get("/v1/events", {"limit": 100, "created[gte]": T0 - 50})  # from earlier
    fake.requests.clear()
    plans = {"customers": Plan(select(["customers"])[0], T0, T0 + 10, read_new=False)}
    spills = {"customers": Spill(tmp_path / "customers")}
    reader = Reader(
        client, "acct_EXAMPLE", False, plans, spills, T0 + 10, events_page=first, max_windows=1
    )
    reader.run()
    assert fake.requests == ["events"] * 4  # 444 events since T0 + 10: 100 came with the plan
    newest = _newest(spills["customers"])
    assert newest["cus_new"]["_sync_deleted"] is True
    assert newest["cus_kept"]["name"] == 1003
    rows = [r for t in spills["customers"].tables() for r in t.to_pylist()]
    assert len(rows) == 444  # every event since the cursor once, none older


def test_pages_handed_to_the_reader_are_not_asked_again_nor_held_after(tmp_path: Path) -> None:
    """The disk estimate's first pages (and the first page of events) are read once, without a
    request, and the reader keeps no reference to them once read."""
    import gc
    import weakref

    customers = objects("cus", 150, [T0 + n for n in range(150)])
    fake = FakeLists({"customers": customers, "events": []})
    client = ApiClient(
        httpx.Auth(), base_url="http://127.0.0.1:9", transport=httpx.MockTransport(fake.handler)
    )

    class Page(dict[str, Any]):  # a dict that a weak reference can follow
        pass

    first = Page(client.get("/v1/customers", {"limit": 100, "created[gte]": 0}))
    events = Page(client.get("/v1/events", {"limit": 100, "created[gte]": T0}))
    fake.requests.clear()
    gone = [weakref.ref(first), weakref.ref(events)]
    plans = {"customers": Plan(select(["customers"])[0])}
    spills = {"customers": Spill(tmp_path / "customers")}
    pages: dict[str, Any] = {"customers": first}
    reader = Reader(
        client,
        "acct_EXAMPLE",
        False,
        plans,
        spills,
        T0,
        events_page=events,
        first_pages=pages,
        max_windows=1,
    )
    del first, events
    reader.run()
    assert sorted(spilled_ids(spills["customers"])) == sorted(c["id"] for c in customers)
    assert "events" not in fake.requests  # the page of events came with the plan
    assert fake.requests == ["customers"]  # one window: its second page only
    assert pages == {}
    assert reader.events_page is None
    gc.collect()
    assert [ref() for ref in gone] == [None, None]


def test_events_of_the_cursors_second_applied_last_run_are_skipped(tmp_path: Path) -> None:
    # the cursor is inclusive: the second it names is listed again, with the two events the
    # last run applied and one that arrived later in that second
    events = [_event(n, T0 + 9, f"cus_{n:06d}") for n in range(3)]
    events += [_event(n, T0 + 10 + n, f"cus_{n:06d}") for n in range(3, 5)]
    fake = FakeLists({"events": events, "customers": []})
    client = ApiClient(
        httpx.Auth(), base_url="http://127.0.0.1:9", transport=httpx.MockTransport(fake.handler)
    )
    seen = frozenset({"evt_000000", "evt_000001"})
    plan = Plan(select(["customers"])[0], T0, T0 + 9, read_new=False, events_seen=seen)
    spills = {"customers": Spill(tmp_path / "customers")}
    Reader(client, "acct_EXAMPLE", False, {"customers": plan}, spills, T0 + 9).run()
    names = sorted(r["name"] for t in spills["customers"].tables() for r in t.to_pylist())
    assert names == [2, 3, 4]


def test_a_per_parent_resource_pages_each_parents_list(tmp_path: Path) -> None:
    from stripe_oauth_nb.sync._resources import PerParent, Resource

    resource = Resource(
        "payment_methods",
        "payment_method",
        "payment_method_read",
        per_parent=PerParent("/v1/customers", "/v1/customers/{id}/payment_methods"),
    )
    customers = objects("customer", 130, [T0 + i for i in range(130)])
    fake = FakeLists({"customers": customers})
    counts = {c["id"]: (150 if i == 7 else i % 3) for i, c in enumerate(customers)}
    for customer_id, count in counts.items():
        methods = objects("payment_method", count, [T0] * count)
        for m in methods:
            m["id"] = f"pm_{customer_id}_{m['id']}"
            m["customer"] = customer_id
        fake.set(f"customers/{customer_id}/payment_methods", methods)
    client = ApiClient(
        httpx.Auth(), base_url="http://127.0.0.1:9", transport=httpx.MockTransport(fake.handler)
    )
    spill = Spill(tmp_path / "pm")
    reader = Reader(
        client,
        "acct_EXAMPLE",
        False,
        {"payment_methods": Plan(resource)},
        {"payment_methods": spill},
        None,
    )
    reader.run()
    ids = spilled_ids(spill)
    assert len(ids) == len(set(ids)) == sum(counts.values())
    # two pages of customers, a page per customer, and one more for the customer with 150
    assert reader.results["payment_methods"].requests == 2 + 130 + 1
    assert reader.results["payment_methods"].error is None


def test_a_balance_is_a_row_per_currency() -> None:
    from stripe_oauth_nb.sync._reader import balance_rows

    balance = {
        "object": "balance",
        "available": [{"amount": 1200, "currency": "usd"}, {"amount": -5, "currency": "eur"}],
        "pending": [{"amount": 300, "currency": "usd"}],
        "connect_reserved": [{"amount": 0, "currency": "usd"}],
        "livemode": False,
    }
    rows = balance_rows(balance, 1_790_000_000.25)
    assert rows == [
        {
            "id": "eur_1790000000250",
            "object": "balance",
            "created": 1_790_000_000,
            "currency": "eur",
            "available": -5,
            "pending": None,
            "connect_reserved": None,
            "instant_available": None,
        },
        {
            "id": "usd_1790000000250",
            "object": "balance",
            "created": 1_790_000_000,
            "currency": "usd",
            "available": 1200,
            "pending": 300,
            "connect_reserved": 0,
            "instant_available": None,
        },
    ]


def test_an_event_object_without_its_expanded_list_is_read_again_expanded(
    tmp_path: Path,
) -> None:
    (resource,) = select(["checkout_sessions"])
    items = [{"id": f"li_{k}", "object": "item", "quantity": 1} for k in range(3)]
    embedded = {"object": "list", "data": items, "has_more": False, "url": "/v1/x"}
    session = {"id": "cs_1", "object": "checkout.session", "created": T0, "line_items": embedded}
    bare = {k: v for k, v in session.items() if k != "line_items"}  # as events carry it
    event = {
        "id": "evt_1",
        "object": "event",
        "type": "checkout.session.completed",
        "created": T0 + 50,
        "data": {"object": bare},
    }
    fake = FakeLists({"checkout/sessions": [session], "events": [event]})
    client = ApiClient(
        httpx.Auth(), base_url="http://127.0.0.1:9", transport=httpx.MockTransport(fake.handler)
    )
    plan = Plan(resource, since=T0 + 10, events_since=T0 + 10)
    spills = {n: Spill(tmp_path / n) for n in ("checkout_sessions", *resource.child_tables)}
    reader = Reader(client, "acct_EXAMPLE", False, {resource.name: plan}, spills, T0 + 10)
    reader.run()
    assert "checkout/sessions/cs_1" in fake.requests  # read again, with its line items
    # (the list's page also holds it: the load keeps one row of an id)
    (table,) = list(spills["checkout_sessions"].tables())
    assert set(table.column("id").to_pylist()) == {"cs_1"}
    assert set(table.column("line_items").to_pylist()) == {'{"object":"list","url":"/v1/x"}'}
    assert set(spilled_ids(spills["checkout_session_line_items"])) == {"li_0", "li_1", "li_2"}


def test_a_deleted_customer_marks_its_payment_methods_for_removal(tmp_path: Path) -> None:
    """Whether or not Stripe sends ``payment_method.detached`` for them, the rows of a deleted
    customer's payment methods go with it (the loader replaces that parent's rows: none)."""
    (methods,) = select(["payment_methods"])
    deleted = {"id": "cus_gone", "object": "customer", "deleted": True}
    events = [
        {
            "id": f"evt_{n}",
            "object": "event",
            "type": kind,
            "created": T0 + 100 + n,
            "data": {"object": obj},
        }
        for n, (kind, obj) in enumerate([("customer.deleted", deleted)])
    ]
    fake = FakeLists({"events": events})
    client = ApiClient(
        httpx.Auth(), base_url="http://127.0.0.1:9", transport=httpx.MockTransport(fake.handler)
    )
    plan = Plan(methods, since=T0 + 10, events_since=T0 + 10, read_new=False)
    spills = {"payment_methods": Spill(tmp_path / "pm")}
    reader = Reader(client, "acct_EXAMPLE", False, {methods.name: plan}, spills, T0 + 10)
    reader.run()
    assert set(reader.child_seq["payment_methods"]) == {"cus_gone"}
    assert list(spills["payment_methods"].tables()) == []  # nothing else was read

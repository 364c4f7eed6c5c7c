"""The sync against the sandbox's seeded business (invoices of 25 lines, subscriptions of 12
items, discounts, tax, three currencies): every line and item is in the tables, the sub-list
requests are exactly one per parent whose embedded list has more, and the analyses of
``stripe_oauth_nb.sync.QUERIES`` (MRR, revenue by product, discounts) equal the same figures
computed from the sandbox's own rows (``Sandbox.ground_truth``), not from the tables."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _sync_helpers import START, install, manager, sync_app

from stripe_oauth_nb.sandbox import Sandbox
from stripe_oauth_nb.sandbox._world import LongLists
from stripe_oauth_nb.sync import QUERIES, run_query, sync

pytest.importorskip("dlt")

#: Months in one interval of a price (the queries' rule).
MONTHS = {"month": 1.0, "year": 12.0, "week": 12 / 52, "day": 12 / 365}


@pytest.fixture(scope="module")
def synced(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """One sandbox with long lists, synced once (the module's tests only read)."""
    tmp = tmp_path_factory.mktemp("analyses")
    lists = LongLists(invoices=6, lines=25, subscriptions=5, items=12, credit_notes=2)
    with Sandbox(customers=80, rate_limit=False, start=START, long_lists=lists) as sb:
        app = sync_app(sb)
        settings, tokens = manager(sb, app)
        account = install(sb, tokens, app).account_id
        db = tmp / "stripe.duckdb"
        before = dict(sb.stats()["requests"])
        report = sync(settings, tokens, db=db, work_dir=tmp / "work")
        after = dict(sb.stats()["requests"])
        yield {
            "report": report,
            "truth": sb.ground_truth(account),
            "db": db,
            "account": account,
            "requests": {k: after.get(k, 0) - before.get(k, 0) for k in after},
        }


def query(synced: dict[str, Any], name: str) -> list[dict[str, Any]]:
    import duckdb

    with duckdb.connect(str(synced["db"]), read_only=True) as con:
        frame = run_query(con, name, synced["account"])
    return frame.to_dict("records")  # type: ignore[no-any-return]


def column(synced: dict[str, Any], table: str, name: str) -> dict[str, Any]:
    import duckdb

    sql = f"SELECT id, {name} FROM {table} WHERE account_id = ?"  # noqa: S608
    with duckdb.connect(str(synced["db"]), read_only=True) as con:
        return dict(con.execute(sql, [synced["account"]]).fetchall())


@pytest.mark.slow  # (the module's sandbox and sync: about 5-15 s, once)
def test_every_line_and_item_with_one_sub_list_request_per_parent_with_more(
    synced: dict[str, Any],
) -> None:
    report, truth = synced["report"], synced["truth"]
    assert report.ok, report.summary()
    lines = {line["id"]: line["invoice"] for line in truth["invoice_lines"]}
    items = {item["id"]: item["subscription"] for item in truth["subscription_items"]}
    assert sum(1 for i in truth["invoices"] if i["lines"] == 25) >= 6
    assert sum(1 for s in truth["subscriptions"] if s["items"] == 12) >= 5
    assert column(synced, "invoice_lines", "invoice") == lines
    assert column(synced, "subscription_items", "subscription") == items
    # quantities too: the table's row is the entry as the API lists it
    quantities = {line["id"]: line["quantity"] for line in truth["invoice_lines"]}
    assert column(synced, "invoice_lines", "quantity") == quantities

    with_more = {
        "invoice_lines": sum(1 for i in truth["invoices"] if i["lines"] > 10),
        "subscription_items": sum(1 for s in truth["subscriptions"] if s["items"] > 10),
    }
    assert all(with_more.values())
    for table, parents in with_more.items():
        assert synced["requests"][table] == parents, table  # counted by the sandbox
        (result,) = [t for t in report.tables if t.table == table]
        assert result.requests == parents
        assert result.rows == (len(lines) if table == "invoice_lines" else len(items))


@pytest.mark.slow
@pytest.mark.parametrize(
    ("parent", "column", "table", "key"),
    [
        ("credit_notes", "lines", "credit_note_lines", "credit_note"),
        ("checkout_sessions", "line_items", "checkout_session_line_items", "checkout_session"),
    ],
)
def test_credit_note_lines_and_checkout_line_items_are_complete(
    synced: dict[str, Any], parent: str, column: str, table: str, key: str
) -> None:
    """Each parent's rows in its child table: as many as its list's ``total_count``."""
    import duckdb

    sql = (
        f"SELECT p.id, CAST(p.{column} ->> 'total_count' AS BIGINT), "  # noqa: S608
        f"(SELECT count(*) FROM {table} AS c WHERE c.{key} = p.id) FROM {parent} AS p"
    )
    with duckdb.connect(str(synced["db"]), read_only=True) as con:
        rows = con.execute(sql).fetchall()
    assert rows
    assert any(total > 10 for _, total, _ in rows)  # past what Stripe embeds
    assert all(total == found for _, total, found in rows)
    (result,) = [t for t in synced["report"].tables if t.table == table]
    assert result.requests == sum(1 for _, total, _ in rows if total > 10)


def expected_mrr(truth: dict[str, list[dict[str, Any]]]) -> dict[str, tuple[int, float, float]]:
    """currency -> (subscriptions, gross MRR, MRR after the latest invoice's discount share)."""
    latest: dict[str, str] = {}
    for invoice in truth["invoices"]:  # in creation order: the last one is the latest
        latest[invoice["subscription"]] = invoice["id"]
    amount: dict[str, int] = defaultdict(int)
    discount: dict[str, int] = defaultdict(int)
    for line in truth["invoice_lines"]:
        amount[line["invoice"]] += line["amount"]
        discount[line["invoice"]] += line["discount"]
    counted = {s["id"] for s in truth["subscriptions"] if s["status"] in ("active", "past_due")}
    subs: dict[str, set[str]] = defaultdict(set)
    gross: dict[str, float] = defaultdict(float)
    net: dict[str, float] = defaultdict(float)
    for item in truth["subscription_items"]:
        sub = item["subscription"]
        if sub not in counted:
            continue
        monthly = item["quantity"] * item["unit_amount"] / MONTHS[item["interval"]]
        invoice = latest.get(sub)
        share = discount[invoice] / amount[invoice] if invoice and amount[invoice] > 0 else 0.0
        subs[item["currency"]].add(sub)
        gross[item["currency"]] += monthly
        net[item["currency"]] += monthly * (1 - share)
    return {c: (len(subs[c]), gross[c], net[c]) for c in subs}


@pytest.mark.slow  # (the module's sandbox and sync: about 5-15 s, once)
def test_mrr_equals_the_ground_truth(synced: dict[str, Any]) -> None:
    expected = expected_mrr(synced["truth"])
    found = {
        r["currency"]: (r["subscriptions"], r["gross_mrr"], r["mrr"]) for r in query(synced, "mrr")
    }
    assert found.keys() == expected.keys()
    assert len(found) >= 2  # several currencies
    for currency, (count, gross, net) in expected.items():
        assert found[currency][0] == count, currency
        assert found[currency][1] == pytest.approx(gross, abs=0.006), currency
        assert found[currency][2] == pytest.approx(net, abs=0.006), currency
    assert any(f[2] < f[1] for f in found.values())  # discounts took something off


def paid_lines(truth: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    paid = {i["id"] for i in truth["invoices"] if i["status"] == "paid"}
    return [line for line in truth["invoice_lines"] if line["invoice"] in paid]


@pytest.mark.slow  # (the module's sandbox and sync: about 5-15 s, once)
def test_revenue_by_product_equals_the_ground_truth(synced: dict[str, Any]) -> None:
    expected: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for line in paid_lines(synced["truth"]):
        entry = expected[(line["currency"], line["product"])]
        entry[0] += 1
        entry[1] += line["amount"] - line["discount"]
    rows = query(synced, "revenue_by_product")
    found = {(r["currency"], r["product"]): [r["lines"], r["revenue"]] for r in rows}
    assert found == dict(expected)
    assert all(r["name"] for r in rows)  # joined to the products table


@pytest.mark.slow  # (the module's sandbox and sync: about 5-15 s, once)
def test_the_effect_of_discounts_equals_the_ground_truth(synced: dict[str, Any]) -> None:
    per_invoice: dict[str, list[Any]] = {}
    for line in paid_lines(synced["truth"]):
        entry = per_invoice.setdefault(line["invoice"], [line["currency"], 0, 0])
        entry[1] += line["amount"]
        entry[2] += line["discount"]
    expected: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0, 0])
    for currency, amount, discount in per_invoice.values():
        e = expected[currency]
        e[0] += 1
        e[1] += discount > 0
        e[2] += amount
        e[3] += discount
        e[4] += amount - discount
    rows = query(synced, "discounts")
    found = {
        r["currency"]: [
            r["invoices"],
            r["discounted_invoices"],
            r["gross"],
            r["discounts"],
            r["net"],
        ]
        for r in rows
    }
    assert found == dict(expected)
    assert sum(e[3] for e in expected.values()) > 0
    for r in rows:
        share = 100 * expected[r["currency"]][3] / expected[r["currency"]][2]
        assert r["discount_percent"] == pytest.approx(share, abs=0.006)


def test_the_queries_are_one_place_the_notebook_can_read() -> None:
    assert set(QUERIES) == {"mrr", "revenue_by_product", "discounts"}
    assert all("$account_id" in sql and "$livemode" in sql for sql in QUERIES.values())


def test_an_unknown_analysis_is_one_clear_error(tmp_path: Path) -> None:
    import duckdb

    from stripe_oauth_nb._errors import SyncConfigError

    with (
        duckdb.connect(str(tmp_path / "x.duckdb")) as con,
        pytest.raises(SyncConfigError, match="choose from mrr, revenue_by_product, discounts"),
    ):
        run_query(con, "arr", "acct_1")

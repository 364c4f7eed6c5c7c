"""SQL in one call: ``conn.sql`` and ``stripe-oauth-nb sql`` (``stripe_oauth_nb.sync._sql``).

The tables a query names are synced first when stale (and only those), the query runs
read-only, bad input gets one line, and queries during a load wait for the complete load.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _sync_helpers import install, manager, sandbox_counts, sync_app, table_counts

from stripe_oauth_nb._cli import main
from stripe_oauth_nb._connect import Connection
from stripe_oauth_nb._errors import QueryError
from stripe_oauth_nb._target import Target
from stripe_oauth_nb.sandbox import Sandbox
from stripe_oauth_nb.sync._sql import check_fresh, parse

pytest.importorskip("dlt")


# -- the parser: no sandbox needed ----------------------------------------------------------
@pytest.mark.parametrize(
    ("sql", "tables"),
    [
        ("SELECT count(*) FROM charges", ("charges",)),
        (
            "select * from main.customers c join CHARGES ch on ch.customer = c.id",
            ("customers", "charges"),
        ),
        ("WITH paid AS (SELECT * FROM invoices) SELECT count(*) FROM paid", ("invoices",)),
        ("SELECT 1", ()),
        ("SELECT * FROM charges__refunds", ("charges",)),
        # a child table is brought up to date with its parent
        ("SELECT count(*) FROM invoice_lines", ("invoices",)),
        (
            "SELECT * FROM subscription_items i JOIN prices p ON p.id = i.price",
            ("prices", "subscriptions"),
        ),
    ],
)
def test_duckdbs_parser_finds_the_tables(sql: str, tables: tuple[str, ...]) -> None:
    assert parse(sql).tables == tables


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("DROP TABLE charges", "Only SELECT queries run here, and this is DROP"),
        ("DELETE FROM charges", "this is DELETE"),
        ("INSERT INTO charges SELECT * FROM charges", "this is INSERT"),
        ("COPY charges TO 'out.csv'", "this is COPY"),
        ("SELECT 1; DROP TABLE charges", "That is 2 statements"),
        ("", "The query is empty"),
        ("SELECT * FROM nope", "The sync loads no table named nope. Its tables are: customers,"),
    ],
)
def test_refused_queries_say_why(sql: str, message: str) -> None:
    with pytest.raises(QueryError) as caught:
        parse(sql)
    assert message in str(caught.value)


def test_a_syntax_error_is_duckdbs_message_on_one_line() -> None:
    with pytest.raises(QueryError) as caught:
        parse("SELEC * FROM charges")
    text = str(caught.value)
    assert text.startswith('Parser Error: syntax error at or near "SELEC"')
    assert "\n" not in text
    assert "^" not in text


@pytest.mark.parametrize("fresh", [-1, float("nan"), float("inf"), "soon"])
def test_fresh_must_be_seconds(fresh: Any) -> None:
    with pytest.raises(QueryError, match="is not a number of seconds"):
        check_fresh(fresh)


@pytest.mark.parametrize("fresh", ["-1", "nan", "inf", "soon"])
def test_the_command_refuses_fresh_that_is_not_seconds(
    fresh: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["sql", "SELECT 1", "--fresh", fresh])
    assert exited.value.code == 2
    assert "argument --fresh: expected seconds, 0 or more" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("DROP TABLE charges", "error: Only SELECT queries run here"),
        ("SELECT * FROM nope", "error: The sync loads no table named nope"),
        ("SELEC 1", 'error: Parser Error: syntax error at or near "SELEC"'),
    ],
)
def test_the_command_gives_one_line_without_any_target(
    sql: str, message: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("STRIPE_OAUTH_NB_SANDBOX_URL", "STRIPE_OAUTH_NB_TOKEN_STORE"):
        monkeypatch.delenv(name, raising=False)
    assert main(["sql", sql]) == 1
    err = capsys.readouterr().err
    assert err.startswith(message)
    assert err.count("\n") == 1
    assert "Traceback" not in err


# -- against the sandbox -------------------------------------------------------------------
@pytest.fixture(scope="module")
def world() -> Iterator[Sandbox]:
    with Sandbox(customers=15, rate_limit=False) as sb:
        yield sb


@pytest.fixture
def conn(world: Sandbox) -> Iterator[Connection]:
    app = sync_app(world)
    settings, tokens = manager(world, app)
    found = install(world, tokens, app)
    connection = Connection(Target(settings, kind="sandbox-url"), tokens, found.account_id, "test")
    yield connection
    connection.close()


def _count(frame: Any) -> int:
    return int(frame.iloc[0, 0])


def test_conn_sql_syncs_the_named_tables_then_answers(
    world: Sandbox, conn: Connection, tmp_path: Path
) -> None:
    db = tmp_path / "stripe.duckdb"
    sql = f"SELECT count(*) FROM charges WHERE account_id = '{conn.account_id}'"  # noqa: S608
    first = conn.sql(sql, db=db)
    want = sandbox_counts(world, conn.account_id)
    assert _count(first) == want["charges"] > 0
    assert table_counts(db, conn.account_id)["customers"] == 0  # only the table it names

    before = sum(world.stats()["requests"].values())
    assert _count(conn.sql(sql, db=db)) == want["charges"]  # fresh: no request at all
    assert sum(world.stats()["requests"].values()) == before

    for _ in range(10):  # 15 customers: three days may bring this account no new charge
        world.simulate(days=3)
        later = sandbox_counts(world, conn.account_id)
        if later["charges"] > want["charges"]:
            break
    assert later["charges"] > want["charges"]
    assert _count(conn.sql(sql, db=db)) == want["charges"]  # synced less than 300 s ago
    assert _count(conn.sql(sql, db=db, fresh=0)) == later["charges"]  # no explicit sync
    relation = conn.sql(sql, db=db, fresh=None, relation=True)
    assert relation.fetchall()[0][0] == later["charges"]


def test_writes_never_reach_the_file(conn: Connection, tmp_path: Path) -> None:
    db = tmp_path / "stripe.duckdb"
    rows = _count(conn.sql("SELECT count(*) FROM customers", db=db))
    for sql in ("DELETE FROM customers", "DROP TABLE customers", "UPDATE customers SET id = 'x'"):
        with pytest.raises(QueryError, match="Only SELECT queries run here"):
            conn.sql(sql, db=db)
    assert _count(conn.sql("SELECT count(*) FROM customers", db=db, fresh=None)) == rows


def test_a_query_without_a_database_says_to_sync(conn: Connection, tmp_path: Path) -> None:
    with pytest.raises(QueryError, match="does not exist yet: sync first"):
        conn.sql("SELECT 1", db=tmp_path / "none.duckdb", fresh=None)


def test_queries_during_a_load_answer_from_the_complete_load(
    conn: Connection, tmp_path: Path
) -> None:
    import duckdb
    from filelock import FileLock

    db = tmp_path / "stripe.duckdb"
    sql = "SELECT count(*) FROM customers"
    rows = _count(conn.sql(sql, db=db))
    answers: list[int] = []
    errors: list[BaseException] = []

    def ask() -> None:
        try:  # fresh=0: each would sync first, but the running sync holds the database
            answers.append(_count(conn.sql(sql, db=db, fresh=0)))
        except BaseException as exc:
            errors.append(exc)

    lock = FileLock(str(db.with_name(db.name + ".sync-lock")))
    lock.acquire()  # a sync is loading: it holds the lock, and writes a half-done load
    try:
        threads = [threading.Thread(target=ask) for _ in range(2)]
        for thread in threads:
            thread.start()
        time.sleep(2)
        assert all(t.is_alive() for t in threads), (answers, errors)  # waiting, not answering
        with duckdb.connect(str(db)) as writer:
            writer.execute("BEGIN")
            writer.execute("DELETE FROM customers")  # half of a load...
            writer.execute("INSERT INTO customers SELECT * FROM customers LIMIT 0")
            writer.execute("ROLLBACK")
            writer.execute(  # ...and the complete one: one more row
                "INSERT INTO customers SELECT * REPLACE ('cus_EXAMPLEnew' AS id) "
                "FROM customers LIMIT 1"
            )
    finally:
        lock.release()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors
    assert answers == [rows + 1, rows + 1]


def test_the_command_prints_a_table_csv_or_json(
    world: Sandbox,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    app = sync_app(world)
    account = world.account_id
    store = tmp_path / "tokens" / "tokens.json"
    for name, value in {
        "STRIPE_OAUTH_NB_TARGET": "sandbox",
        "STRIPE_API_BASE": world.api_base,
        "STRIPE_MARKETPLACE_BASE": world.marketplace_base,
        "STRIPE_SECRET_KEY_TEST": world.test.secret_key,
        "STRIPE_CLIENT_ID_TEST": app.client_id("test"),
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("STRIPE_OAUTH_NB_SANDBOX_URL", raising=False)
    from stripe_oauth_nb.tokens import FileTokenStore, TokenManager

    settings, _ = manager(world, app)
    with TokenManager(settings.with_changes(token_store_path=store), FileTokenStore(store)) as tm:
        install(world, tm, app, account_id=account)
    want = sandbox_counts(world, account)["customers"]
    sql = f"SELECT count(*) AS n FROM customers WHERE account_id = '{account}'"  # noqa: S608
    assert main(["sql", sql, "--store", str(store)]) == 0
    out = capsys.readouterr().out
    cells = [line.replace("│", " ").split() for line in out.splitlines()]
    assert ["n"] in cells
    assert [str(want)] in cells
    assert out.rstrip().endswith("(1 row)")
    assert main(["sql", sql, "--store", str(store), "--csv"]) == 0
    assert capsys.readouterr().out == f"n\n{want}\n"
    assert main(["sql", sql, "--store", str(store), "--json", "--fresh", "none"]) == 0
    assert capsys.readouterr().out == f'{{"n": {want}}}\n'


def test_a_connection_left_open_in_a_notebook_is_read_through_and_named_for_a_sync(
    conn: Connection, tmp_path: Path
) -> None:
    import duckdb

    from stripe_oauth_nb._errors import DestinationError

    db = tmp_path / "stripe.duckdb"
    rows = _count(conn.sql("SELECT count(*) FROM customers", db=db))
    with duckdb.connect(str(db)) as mine:  # an analyst's own connection, still open
        assert _count(conn.sql("SELECT count(*) FROM customers", db=db, fresh=None)) == rows
        with pytest.raises(DestinationError, match=r"open in this Python process .*con.close\(\)"):
            conn.sql("SELECT count(*) FROM customers", db=db, fresh=0)
        assert mine.execute("SELECT count(*) FROM customers").fetchall()[0][0] == rows

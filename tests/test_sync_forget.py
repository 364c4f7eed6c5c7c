"""Forgetting an account (``sync --forget``, ``forget()``, ``conn.forget()``): no row of it in any
table, no state, in DuckDB and PostgreSQL, the other accounts untouched; deauthorized accounts
marked by ``tokens list`` and skipped by ``sync --all-accounts``; PostgreSQL tables the sync
creates grant nothing to PUBLIC, and the documented reading role works."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _sync_helpers import START, cli_env, install, manager, sandbox_counts, sync_app, table_counts

from stripe_oauth_nb._cli import main
from stripe_oauth_nb._errors import AuthorizeAgainError, SyncConfigError
from stripe_oauth_nb._settings import Settings
from stripe_oauth_nb.sandbox import RegisteredApp, Sandbox
from stripe_oauth_nb.sync import forget, sync
from stripe_oauth_nb.sync._load import SCHEMA_NAME, pipeline_name
from stripe_oauth_nb.tokens import FileTokenStore, TokenManager

pytest.importorskip("dlt")


@pytest.fixture
def world() -> Iterator[Sandbox]:
    with Sandbox(customers=20, rate_limit=False, start=START) as sb:
        yield sb


def _for_the_cli(
    world: Sandbox, app: RegisteredApp, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[Settings, TokenManager]:
    """Settings and a token manager over a token file that the CLI, run here, uses too."""
    monkeypatch.chdir(tmp_path)
    store = tmp_path / "tokens.json"
    settings, _ = manager(world, app)
    settings = settings.with_changes(token_store_path=store)
    for name, value in cli_env(world, app, store).items():
        monkeypatch.setenv(name, value)
    return settings, TokenManager(settings, FileTokenStore(store), clock=world.now)


def _duckdb_rows(db: Path, account: str, livemode: bool) -> dict[str, int]:
    """Rows of (account, mode) in every table that has an account_id column."""
    import duckdb

    with duckdb.connect(str(db), read_only=True) as con:
        tables = [
            r[0]
            for r in con.execute(
                "SELECT DISTINCT table_name FROM information_schema.columns "
                "WHERE column_name = 'account_id'"
            ).fetchall()
        ]
        out = {}
        for table in tables:
            sql = f"SELECT count(*) FROM {table} WHERE account_id = ? AND livemode = ?"  # noqa: S608
            out[table] = int(con.execute(sql, [account, livemode]).fetchone()[0])  # type: ignore[index]
        (state,) = con.execute(  # dlt's record of the pipeline: its states
            "SELECT count(*) FROM _dlt_pipeline_state WHERE pipeline_name = $1",
            [pipeline_name(account, livemode)],
        ).fetchone()  # type: ignore[misc]
        out["_dlt_state"] = int(state)
    return out


#: The load ids of a pipeline's states, and of every load recorded (``%s``: the pipeline).
_STATE_LOADS = "SELECT _dlt_load_id FROM {d}_dlt_pipeline_state WHERE pipeline_name = %s"
_LOADS = "SELECT load_id FROM {d}_dlt_loads"


def _schema_names(db: Path) -> list[str]:
    """The names of the dlt schema copies stored in the database."""
    import duckdb

    with duckdb.connect(str(db), read_only=True) as con:
        sql = "SELECT DISTINCT schema_name FROM _dlt_version ORDER BY 1"
        return [r[0] for r in con.execute(sql).fetchall()]


def _duckdb_loads(db: Path, account: str | None = None) -> set[str]:
    """Load ids of the test-mode pipeline of ``account``'s states (None: of every load)."""
    import duckdb

    with duckdb.connect(str(db), read_only=True) as con:
        if account is None:
            return {r[0] for r in con.execute(_LOADS.format(d="")).fetchall()}
        sql = _STATE_LOADS.format(d="").replace("%s", "$1")
        return {r[0] for r in con.execute(sql, [pipeline_name(account, False)]).fetchall()}


@pytest.mark.slow
def test_forget_deletes_one_account_and_mode_from_every_table_and_its_state(
    world: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    app = sync_app(world)
    settings, tokens = _for_the_cli(world, app, tmp_path, monkeypatch)
    gone, kept = world.account_ids[0], world.account_ids[1]
    install(world, tokens, app, "test", gone)
    install(world, tokens, app, "live", gone)
    install(world, tokens, app, "test", kept)
    db, work = tmp_path / "stripe.duckdb", tmp_path / "stripe.duckdb.sync"
    assert sync(settings, tokens, db=db, accounts="all").ok
    before_kept = table_counts(db, kept)
    before_live = table_counts(db, gone, True)
    assert sum(_duckdb_rows(db, gone, False).values()) > 0
    assert (work / "pipelines" / pipeline_name(gone, False)).is_dir()
    loads = _duckdb_loads(db, gone)  # the loads that wrote its state
    assert loads

    assert main(["sync", "--forget", gone, "--mode", "test"]) == 0
    out = capsys.readouterr().out
    assert f"Forgot {gone} (test mode) in duckdb:stripe.duckdb" in out
    assert set(_duckdb_rows(db, gone, False).values()) == {0}  # every table, and the state
    assert not (work / "pipelines" / pipeline_name(gone, False)).exists()
    assert table_counts(db, kept) == before_kept == sandbox_counts(world, kept)
    assert table_counts(db, gone, True) == before_live  # the other mode is another install
    assert _duckdb_rows(db, kept, False)["_dlt_state"] > 0
    assert not loads & _duckdb_loads(db)  # their records went with the state
    assert _duckdb_loads(db, kept) <= _duckdb_loads(db)  # the others' stay
    assert _schema_names(db) == [SCHEMA_NAME]  # the schema the accounts share stays

    assert main(["sync", "--forget", gone, "--mode", "test", "--json"]) == 0  # again: nothing
    again = json.loads(capsys.readouterr().out)
    assert set(again["deleted"].values()) == {0}

    # installed again later: a full pass brings it back, equal to the API
    report = sync(settings, tokens, db=db, accounts=[gone], mode="test")
    assert report.ok, report.summary()
    assert all(t.full for t in report.tables)
    assert table_counts(db, gone) == sandbox_counts(world, gone)


def test_forget_refuses_what_is_not_an_account_id(tmp_path: Path) -> None:
    with pytest.raises(SyncConfigError, match="not an account id"):
        forget("acct_x'; DROP TABLE customers; --", "test", db=tmp_path / "s.duckdb")
    assert not (tmp_path / "s.duckdb").exists()
    with pytest.raises(SyncConfigError, match=r"no database at .*nothing to forget"):
        forget("acct_123", "test", db=tmp_path / "s.duckdb")
    assert not (tmp_path / "s.duckdb").exists()  # not made just to be emptied


def test_connection_forget(world: Sandbox, tmp_path: Path) -> None:
    from stripe_oauth_nb._connect import Connection
    from stripe_oauth_nb._target import Target

    app = sync_app(world)
    settings, tokens = manager(world, app)
    account = install(world, tokens, app).account_id
    db = tmp_path / "stripe.duckdb"
    target = Target.open(settings, start_sandbox=False)
    conn = Connection(target, tokens, account, "test")
    assert conn.sync(db=db).ok
    before = _duckdb_rows(db, account, False)
    assert before.pop("_dlt_state") > 0  # dlt's records of the loads: not a table of rows
    assert before["customers"] == sandbox_counts(world, account)["customers"] > 0
    report = conn.forget(db=db)
    assert report.rows == before  # every table of rows: child tables and snapshots included
    assert set(_duckdb_rows(db, account, False).values()) == {0}


def _deauthorize(tokens: TokenManager, account: str) -> None:
    """What an uninstall looks like to us: the stored refresh token is refused, and marked."""
    current = tokens.get(account, False)
    tokens.client.refresh(current)  # the stored refresh token is spent now
    with pytest.raises(AuthorizeAgainError):
        tokens.refresh(account, False, force=True)


def test_all_accounts_skips_deauthorized_accounts_and_tokens_list_marks_them(
    world: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    app = sync_app(world)
    settings, tokens = _for_the_cli(world, app, tmp_path, monkeypatch)
    gone, kept = world.account_ids[0], world.account_ids[1]
    install(world, tokens, app, "test", gone)
    install(world, tokens, app, "test", kept)
    _deauthorize(tokens, gone)

    report = sync(settings, tokens, db=tmp_path / "stripe.duckdb", accounts="all")
    assert report.ok, report.summary()
    skipped = [a for a in report.accounts if a.deauthorized]
    assert [(a.account_id, a.livemode) for a in skipped] == [(gone, False)]
    assert f"sync --forget {gone} --mode test" in report.summary()
    assert "skipped: deauthorized" in report.summary()
    assert {t.account_id for t in report.tables} == {kept}
    assert sum(table_counts(tmp_path / "stripe.duckdb", gone).values()) == 0

    assert main(["tokens", "list"]) == 0
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if gone in x)
    assert "DEAUTHORIZED" in line
    assert "DEAUTHORIZED" not in next(x for x in out.splitlines() if kept in x)
    assert "1 deauthorized" in out
    assert "sync --forget ACCT" in out
    assert main(["tokens", "list", "--json"]) == 0
    rows = {
        r["account_id"]: r["deauthorized"] for r in json.loads(capsys.readouterr().out)["tokens"]
    }
    assert rows == {gone: True, kept: False}
    assert main(["sync", "--all-accounts"]) == 0
    out = capsys.readouterr().out
    assert f"{gone} test: skipped: deauthorized" in out


# -- PostgreSQL ---------------------------------------------------------------------------
def _pg(dsn: str, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    import psycopg2

    with psycopg2.connect(dsn) as con, con.cursor() as cur:
        cur.execute(sql, args)
        rows = cur.fetchall() if cur.description else []
    con.close()
    return rows


@pytest.mark.slow
def test_postgres_forget_and_nothing_granted_to_public(
    world: Sandbox, tmp_path: Path, postgres: Any
) -> None:
    import psycopg2

    app = sync_app(world)
    settings, tokens = manager(world, app)
    gone, kept = world.account_ids[0], world.account_ids[1]
    install(world, tokens, app, "test", gone)
    install(world, tokens, app, "test", kept)
    dsn = postgres.create_database()
    work = tmp_path / "w"
    report = sync(settings, tokens, destination="postgres", dsn=dsn, accounts="all", work_dir=work)
    assert report.ok, report.summary()

    # nothing in the sync's schema is granted to PUBLIC (every role on the server)
    granted = _pg(
        dsn,
        "SELECT table_name, privilege_type FROM information_schema.role_table_grants "
        "WHERE table_schema = 'stripe' AND grantee = 'PUBLIC'",
    )
    assert granted == []
    tables = [r[0] for r in _pg(dsn, "SELECT tablename FROM pg_tables WHERE schemaname = 'stripe'")]
    assert "customers" in tables
    assert "_dlt_loads" in tables
    public = _pg(
        dsn,
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace, "
        "aclexplode(coalesce(c.relacl, acldefault('r', c.relowner))) a "
        "WHERE n.nspname = 'stripe' AND a.grantee = 0",
    )
    assert public == []
    assert _pg(dsn, "SELECT has_schema_privilege('public', 'stripe', 'USAGE')") == [(False,)]

    # a role with no grants of its own (so only PUBLIC's) reads nothing; the README's reading
    # role grants are enough to read
    role = f"analyst_{uuid.uuid4().hex[:8]}"
    password = uuid.uuid4().hex
    postgres.psql(f"CREATE ROLE {role} LOGIN PASSWORD '{password}'")
    database = dsn.rsplit("/", 1)[1].split("?")[0]
    as_role = postgres.dsn(database, password=password).replace("som_admin", role, 1)
    with pytest.raises(psycopg2.errors.InsufficientPrivilege):
        _pg(as_role, "SELECT count(*) FROM stripe.customers")
    postgres.psql(
        f"GRANT USAGE ON SCHEMA stripe TO {role}; "
        f"GRANT SELECT ON ALL TABLES IN SCHEMA stripe TO {role}",
        database,
    )
    assert _pg(as_role, "SELECT count(*) FROM stripe.customers")[0][0] > 0

    before = {
        t: _pg(dsn, f"SELECT count(*) FROM stripe.{t} WHERE account_id = %s", kept)[0][0]  # noqa: S608
        for t in ("customers", "charges", "invoices")
    }
    gone_loads = {
        r[0] for r in _pg(dsn, _STATE_LOADS.format(d="stripe."), pipeline_name(gone, False))
    }
    assert gone_loads
    done = forget(gone, "test", destination="postgres", dsn=dsn, work_dir=work)
    assert done.total > 0
    with_account = [
        r[0]
        for r in _pg(
            dsn,
            "SELECT table_name FROM information_schema.columns WHERE table_schema = 'stripe' "
            "AND column_name = 'account_id'",
        )
    ]
    assert "customers" in with_account
    for table in with_account:
        sql = f"SELECT count(*) FROM stripe.{table} WHERE account_id = %s"  # noqa: S608
        assert _pg(dsn, sql, gone) == [(0,)], table
    state = "SELECT count(*) FROM stripe._dlt_pipeline_state WHERE pipeline_name = %s"
    assert _pg(dsn, state, pipeline_name(gone, False)) == [(0,)]
    assert _pg(dsn, state, pipeline_name(kept, False))[0][0] > 0
    recorded = {r[0] for r in _pg(dsn, _LOADS.format(d="stripe."))}
    assert not gone_loads & recorded  # the loads that wrote its state went with it
    assert {r[0] for r in _pg(dsn, _STATE_LOADS.format(d="stripe."), pipeline_name(kept, False))}
    for table, count in before.items():
        sql = f"SELECT count(*) FROM stripe.{table} WHERE account_id = %s"  # noqa: S608
        assert _pg(dsn, sql, kept) == [(count,)]
    postgres.psql(f"REVOKE ALL ON ALL TABLES IN SCHEMA stripe FROM {role}", database)
    postgres.psql(f"REVOKE ALL ON SCHEMA stripe FROM {role}", database)
    postgres.psql(f"DROP ROLE {role}")

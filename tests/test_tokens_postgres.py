"""The PostgreSQL token store against a real server (``postgres`` fixture, not root) and the
sandbox: schema, errors, encryption at rest, single flight between "hosts" (separate processes
with their own HOME and TMPDIR that share only the database and the sandbox), SIGKILL at each
point, a database restart or outage in the middle of a refresh."""

from __future__ import annotations

import base64
import json
import signal
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from _postgres import PASSWORD, PostgresServer
from _tokens_helpers import aged, fp, grants, lock_held_elsewhere, new_code, run_child, token_works

from stripe_oauth_nb._errors import (
    RefreshResponseLostError,
    StoreKeyError,
    StoreUnavailableError,
    TokenLockTimeoutError,
    TokenStoreError,
)
from stripe_oauth_nb._masking import Secret, mask_dsn
from stripe_oauth_nb._settings import Settings
from stripe_oauth_nb._tokenset import TokenSet
from stripe_oauth_nb.sandbox import Sandbox
from stripe_oauth_nb.tokens import TokenManager, open_attempt_log
from stripe_oauth_nb.tokens import _postgres as pgmod
from stripe_oauth_nb.tokens._checkpoint import KILL_AT_ENV
from stripe_oauth_nb.tokens._crypto import StoreCipher, new_key
from stripe_oauth_nb.tokens._postgres import PostgresTokenStore
from stripe_oauth_nb.tokens._postgres import _store as pgstore

HOSTS = 16


@pytest.fixture
def key() -> str:
    return new_key()


@pytest.fixture
def dsn(postgres: PostgresServer) -> str:
    return postgres.create_database()


def _dbname(dsn: str) -> str:
    return dsn.rsplit("/", 1)[1].split("?")[0]


def _store(dsn: str, key: str | None, tmp_path: Path) -> PostgresTokenStore:
    cipher = StoreCipher.from_setting(key)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the "not encrypted" warning has its own test
        return PostgresTokenStore(dsn, cipher=cipher, spool=tmp_path / "spool")


def _settings(sb: Sandbox, dsn: str, key: str | None) -> Settings:
    return sb.settings().with_changes(
        token_store_dsn=Secret(dsn), token_store_key=Secret(key) if key else None
    )


@pytest.fixture
def manager(sb: Sandbox, dsn: str, key: str, tmp_path: Path) -> Iterator[TokenManager]:
    store = _store(dsn, key, tmp_path)
    with TokenManager(_settings(sb, dsn, key), store, clock=sb.now) as made:
        made.exchange(new_code(sb, made.attempts))
        yield made
    store.close()


# -- schema and connections --------------------------------------------------------------------
def test_schema_is_created_once_and_versioned(
    postgres: PostgresServer, dsn: str, tmp_path: Path
) -> None:
    assert _store(dsn, None, tmp_path).all() == []
    assert _store(dsn, None, tmp_path).all() == []  # a second store: nothing to migrate
    versions = postgres.psql("SELECT version FROM stripe_oauth_nb.schema_version", _dbname(dsn))
    assert versions.split() == [str(pgmod.LATEST_VERSION)]
    tables = postgres.psql(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'stripe_oauth_nb' ORDER BY 1",
        _dbname(dsn),
    )
    assert tables.split() == ["attempts", "inflight", "schema_version", "token_sets"]


def test_a_schema_from_a_newer_version_is_refused_and_left_alone(
    postgres: PostgresServer, dsn: str, tmp_path: Path
) -> None:
    _store(dsn, None, tmp_path).all()
    postgres.psql("INSERT INTO stripe_oauth_nb.schema_version VALUES (99)", _dbname(dsn))
    with pytest.raises(StoreUnavailableError, match=r"newer stripe-oauth-nb.*Upgrade"):
        _store(dsn, None, tmp_path).all()


@pytest.mark.parametrize("case", ["wrong password", "nobody listens"])
def test_connection_failures_are_clear_and_never_show_the_password(
    postgres: PostgresServer, tmp_path: Path, case: str
) -> None:
    secret = "EXAMPLE-not-the-password"
    if case == "wrong password":
        dsn = postgres.dsn(_dbname(postgres.create_database()), password=secret)
    else:
        dsn = f"postgresql://som_admin:{secret}@127.0.0.1:9/none?connect_timeout=3"
    store = _store(dsn, None, tmp_path)
    assert secret not in repr(store) + store.location
    with pytest.raises(StoreUnavailableError, match="cannot be reached") as info:
        store.all()
    shown = str(info.value) + repr(info.value)
    assert secret not in shown
    assert PASSWORD not in shown
    assert "STRIPE_OAUTH_NB_TOKEN_STORE" in shown


def test_lock_wait_on_postgres_is_bounded(sb: Sandbox, manager: TokenManager) -> None:
    manager.lock_timeout = 0.5
    with (
        lock_held_elsewhere(manager.store, manager.get().key),
        pytest.raises(TokenLockTimeoutError, match="try again in a minute"),
    ):
        manager.refresh(force=True)
    assert grants(sb)["refresh_token"] == 0


# -- the manager on PostgreSQL -------------------------------------------------------------------
def test_refresh_lost_answer_and_deauthorized_on_postgres(
    sb: Sandbox, manager: TokenManager
) -> None:
    old = manager.get()
    sb.advance_clock(3600)
    new_token = manager.access_token()
    assert new_token != old.access_token
    assert manager.store.load(*old.key).access_token == new_token  # stored before returned
    assert grants(sb)["refresh_token"] == 1

    current = manager.get()
    sb.inject_fault("token", "drop")
    with pytest.raises(RefreshResponseLostError, match="Token rotated, response lost"):
        manager.refresh(force=True)
    assert manager.inflight(*old.key) is not None  # committed before the POST, kept
    with pytest.raises(RefreshResponseLostError, match="never stored its answer"):
        manager.refresh(force=True)
    with pytest.raises(RefreshResponseLostError):
        manager.refresh(force=True)
    assert grants(sb)["refresh_token"] == 3  # one lost, one confirmation, then none
    assert manager.summary()[0]["state"] == "lost"
    assert manager.get() == current

    fresh = manager.exchange(new_code(sb, manager.attempts))  # a new authorization clears it
    assert manager.inflight(*fresh.key) is None
    manager.client.refresh(fresh)  # rotated behind our back: Stripe refuses the stored token
    with pytest.raises(Exception, match="authorize the app again") as info:
        manager.refresh(force=True)
    assert not isinstance(info.value, RefreshResponseLostError)
    assert manager.summary()[0]["state"].startswith("deauthorized")
    sent = grants(sb)["refresh_token"]
    with pytest.raises(Exception, match="not sent again"):
        manager.access_token(margin=4000)  # due, but marked: no request
    assert grants(sb)["refresh_token"] == sent


# -- encryption at rest ------------------------------------------------------------------------
def test_a_database_dump_holds_no_usable_token(
    postgres: PostgresServer, sb: Sandbox, manager: TokenManager, dsn: str
) -> None:
    first = manager.get()
    second = manager.refresh(force=True)
    dump = postgres.dump(_dbname(dsn))
    assert "enc:v1:" in dump
    for tokens in (first, second):
        for token in (tokens.access_token.reveal(), tokens.refresh_token.reveal()):
            assert token not in dump
            assert base64.b64encode(token.encode()).decode()[:20] not in dump
            assert base64.urlsafe_b64encode(token.encode()).decode()[:20] not in dump
    for attempt in manager.attempts.all():  # the attempt log is sealed too
        assert attempt.state.reveal() not in dump
    assert token_works(sb, second.access_token)  # and the store still opens them


def test_a_store_without_a_key_says_so(dsn: str, tmp_path: Path) -> None:
    pgmod._WARNED.discard(mask_dsn(dsn))
    with pytest.warns(UserWarning, match="without encryption"):
        PostgresTokenStore(dsn, spool=tmp_path)


def _rows(postgres: PostgresServer, dsn: str) -> str:
    return postgres.psql(
        "SELECT account_id, access_token, refresh_token, obtained_at FROM "
        "stripe_oauth_nb.token_sets ORDER BY 1",
        _dbname(dsn),
    )


def test_a_wrong_key_is_a_clear_error_and_changes_nothing(
    postgres: PostgresServer, sb: Sandbox, manager: TokenManager, dsn: str, tmp_path: Path
) -> None:
    before = _rows(postgres, dsn)
    other = new_key()
    wrong = TokenManager(_settings(sb, dsn, other), _store(dsn, other, tmp_path), clock=sb.now)
    for attempt in (wrong.get, lambda: wrong.refresh(force=True), wrong.store.all):
        with pytest.raises(StoreKeyError, match="not among your keys") as info:
            attempt()
        assert "Nothing was changed" in str(info.value)
    no_key = _store(dsn, None, tmp_path)
    with pytest.raises(StoreKeyError, match="no key is set"):
        no_key.all()
    assert _rows(postgres, dsn) == before
    assert grants(sb)["refresh_token"] == 0


def test_key_rotation_reseals_in_place(
    postgres: PostgresServer, manager: TokenManager, dsn: str, key: str, tmp_path: Path
) -> None:
    stored = manager.get()
    newer = new_key()
    both = _store(dsn, f"{newer},{key}", tmp_path)
    assert both.all() == [stored]  # the old key still opens them
    assert both.rekey() == 1
    assert _store(dsn, newer, tmp_path).all() == [stored]
    with pytest.raises(StoreKeyError):
        _store(dsn, key, tmp_path).all()
    assert StoreCipher.from_setting(newer).primary in _rows(postgres, dsn)  # type: ignore[union-attr]


# -- other hosts -------------------------------------------------------------------------------
def _host_env(tmp_path: Path, n: int, key: str) -> dict[str, str]:
    home, tmp = tmp_path / f"host{n}" / "home", tmp_path / f"host{n}" / "tmp"
    home.mkdir(parents=True)
    tmp.mkdir()
    return {
        "HOME": str(home),
        "TMPDIR": str(tmp),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_STATE_HOME": str(home / ".local" / "state"),
        "STRIPE_OAUTH_NB_STORE_KEY": key,
    }


@pytest.mark.slow
def test_sixteen_hosts_refreshing_one_expired_token_send_one_refresh(
    sb: Sandbox, manager: TokenManager, dsn: str, key: str, tmp_path: Path
) -> None:
    tokens = manager.get()
    manager.store.save(aged(tokens))  # every host finds the access token expired
    hosts = [
        run_child(
            sb, {"job": "host", "store": dsn}, env=_host_env(tmp_path, n, key), keep_stdin=True
        )
        for n in range(HOSTS)
    ]
    for proc in hosts:  # each prints "ready" once it is set up and waiting
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready", proc.stderr.read() if proc.stderr else ""
    for proc in hosts:
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
    rows = []
    for proc in hosts:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        rows.append(json.loads(out.strip().splitlines()[-1]))
    new = manager.get()
    assert new.refresh_token != tokens.refresh_token
    assert grants(sb)["refresh_token"] == 1
    assert {(row["access"], row["refresh"]) for row in rows} == {
        (fp(new.access_token), fp(new.refresh_token))
    }
    assert token_works(sb, new.access_token)
    assert manager.inflight(*tokens.key) is None


#: point -> (did Stripe rotate?, the next refresh's outcome)
PG_KILL_POINTS = [
    ("before-post", False, "works"),
    ("after-response", True, "lost"),
    ("after-replace", True, "works"),
]


@pytest.mark.parametrize(
    ("point", "rotated", "outcome"), PG_KILL_POINTS, ids=[p[0] for p in PG_KILL_POINTS]
)
def test_sigkill_at_each_point_of_a_postgres_refresh(
    sb: Sandbox,
    manager: TokenManager,
    dsn: str,
    key: str,
    tmp_path: Path,
    point: str,
    rotated: bool,
    outcome: str,
) -> None:
    old = manager.get()
    env = {**_host_env(tmp_path, 0, key), KILL_AT_ENV: point}
    proc = run_child(sb, {"job": "refresh", "store": dsn}, env=env)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL, (out, err)
    assert grants(sb)["refresh_token"] == int(rotated)
    stored = manager.get()  # the lock died with the child: nothing waits
    if point == "after-replace":
        assert stored.refresh_token != old.refresh_token
        assert token_works(sb, stored.access_token)
        assert manager.inflight(*old.key) is None  # stored with the record's removal, at once
    else:
        assert stored == old
        assert manager.inflight(*old.key) is not None
    if outcome == "works":
        new = manager.refresh(force=True)
        assert token_works(sb, new.access_token)
        assert manager.inflight(*old.key) is None
    else:
        with pytest.raises(RefreshResponseLostError, match="Token rotated, response lost"):
            manager.refresh(force=True)
        assert manager.summary()[0]["state"] == "lost"


# -- the database goes away in the middle of a refresh -------------------------------------------
@pytest.mark.slow
def test_a_database_restart_in_the_middle_of_a_refresh_loses_nothing(
    postgres: PostgresServer, sb: Sandbox, manager: TokenManager
) -> None:
    old = manager.get()
    sb.inject_fault("token", "delay", seconds=3.0)  # Stripe is slow to answer ...
    result: list[TokenSet | BaseException] = []

    def refresh() -> None:
        try:
            result.append(manager.refresh(force=True))
        except BaseException as exc:
            result.append(exc)

    worker = threading.Thread(target=refresh)
    worker.start()
    time.sleep(1.0)
    postgres.restart()  # ... while the database restarts: every session is cut
    worker.join(60)
    assert len(result) == 1
    new = result[0]
    assert isinstance(new, TokenSet), new
    assert new.refresh_token != old.refresh_token
    assert manager.store.load(*old.key) == new
    assert manager.inflight(*old.key) is None
    assert grants(sb)["refresh_token"] == 1
    assert token_works(sb, new.access_token)


@pytest.mark.slow
def test_a_database_outage_after_the_post_spools_the_pair_and_the_next_run_stores_it(
    postgres: PostgresServer,
    sb: Sandbox,
    manager: TokenManager,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    old = manager.get()
    monkeypatch.setattr(pgstore, "SAVE_RETRY", 1.0)
    sb.inject_fault("token", "delay", seconds=2.0)
    stopper = threading.Timer(0.7, postgres.stop)
    stopper.start()
    try:
        with pytest.raises(TokenStoreError, match="nothing is lost") as info:
            manager.refresh(force=True)
    finally:
        stopper.join()
        postgres.start()
    kept = info.value.tokens
    assert kept is not None
    assert info.value.kept_at is not None
    spooled = Path(info.value.kept_at).read_text()
    assert kept.refresh_token.reveal() not in spooled  # sealed like the store
    assert manager.store.load(*old.key) == old  # the database never got it ...
    store = manager.store
    assert isinstance(store, PostgresTokenStore)
    later = TokenManager(manager.settings, store, clock=sb.now)  # the next run on this machine
    assert later.refresh() == kept  # ... the next run stores it, without a request
    assert store.load(*old.key) == kept
    assert not Path(info.value.kept_at).exists()
    assert grants(sb)["refresh_token"] == 1
    assert token_works(sb, kept.access_token)


def test_the_attempt_log_lives_in_the_database(
    sb: Sandbox, manager: TokenManager, dsn: str, key: str, tmp_path: Path
) -> None:
    from stripe_oauth_nb._errors import CodeAlreadyUsedError

    code = new_code(sb, manager.attempts)
    elsewhere = open_attempt_log(_settings(sb, dsn, key))  # another host, same database
    found = elsewhere.find(code.attempt.state.reveal())
    assert found.client_id == code.attempt.client_id
    manager.exchange(code)
    with pytest.raises(CodeAlreadyUsedError):
        elsewhere.mark_code_sent(code.attempt.state.reveal())
    assert not (tmp_path / "attempts.json").exists()  # nothing on this machine's disk


@pytest.mark.slow
def test_a_connection_dropped_in_the_middle_of_a_refresh_loses_nothing(
    postgres: PostgresServer, sb: Sandbox, manager: TokenManager, dsn: str
) -> None:
    old = manager.get()
    sb.inject_fault("token", "delay", seconds=2.0)
    killer = threading.Timer(
        0.7,
        postgres.psql,
        args=[
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE application_name = 'stripe-oauth-nb' AND pid <> pg_backend_pid()",
            _dbname(dsn),
        ],
    )
    killer.start()  # the refresh's lock session is cut while Stripe answers
    try:
        new = manager.refresh(force=True)
    finally:
        killer.join()
    assert new.refresh_token != old.refresh_token
    assert manager.store.load(*old.key) == new
    assert manager.inflight(*old.key) is None
    assert token_works(sb, new.access_token)
    assert manager.refresh() == new  # and the store works on, through fresh connections

"""``tokens migrate``: file -> PostgreSQL -> file, without refreshing, keeping in-flight records;
and the walkthrough's Flow on a PostgreSQL store."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
from _postgres import PostgresServer
from _tokens_helpers import grants, new_code, run_child, token_works

from stripe_oauth_nb._cli import main
from stripe_oauth_nb._errors import RefreshResponseLostError, TokenStoreError
from stripe_oauth_nb._masking import Secret
from stripe_oauth_nb._settings import Settings
from stripe_oauth_nb.oauth._attempts import AttemptLog
from stripe_oauth_nb.sandbox import Sandbox
from stripe_oauth_nb.tokens import FileTokenStore, TokenManager
from stripe_oauth_nb.tokens._checkpoint import KILL_AT_ENV
from stripe_oauth_nb.tokens._crypto import StoreCipher, new_key
from stripe_oauth_nb.tokens._migrate import migrate
from stripe_oauth_nb.tokens._postgres import PostgresTokenStore


def _pg(postgres: PostgresServer, tmp_path: Path, key: str) -> PostgresTokenStore:
    return PostgresTokenStore(
        postgres.create_database(), cipher=StoreCipher.from_setting(key), spool=tmp_path / "s"
    )


@pytest.mark.slow
def test_migrate_file_to_postgres_and_back_without_refreshing(
    sb: Sandbox, tmp_settings: Settings, tmp_path: Path, postgres: PostgresServer
) -> None:
    key = new_key()
    log = AttemptLog(tmp_path / "attempts.json")
    source = FileTokenStore(tmp_settings.token_store_path, cipher=StoreCipher.from_setting(key))
    manager = TokenManager(tmp_settings, source, log, clock=sb.now)
    live = manager.exchange(new_code(sb, log, "live"))
    test = manager.exchange(new_code(sb, log, "test"))  # the most recent authorization
    requests = sb.stats()["requests"]["token"]

    database = _pg(postgres, tmp_path, key)
    report = migrate(source, database)
    assert (report.copied, report.unchanged) == (2, 0)
    assert database.all() == [live, test]  # same sets, same order
    assert TokenManager(tmp_settings, database, clock=sb.now).get() == test
    assert migrate(source, database).unchanged == 2  # again: nothing to do

    back = FileTokenStore(tmp_path / "back" / "tokens.json", cipher=StoreCipher.from_setting(key))
    migrate(database, back)
    assert back.all() == [live, test]
    assert sb.stats()["requests"]["token"] == requests  # nothing was refreshed
    assert token_works(sb, back.load(*test.key).access_token)  # type: ignore[union-attr]


def test_migrate_keeps_a_lost_refresh_recognisable(
    sb: Sandbox, tmp_settings: Settings, tmp_path: Path, postgres: PostgresServer
) -> None:
    log = AttemptLog(tmp_path / "attempts.json")
    source = FileTokenStore(tmp_settings.token_store_path)
    old = TokenManager(tmp_settings, source, log, clock=sb.now).exchange(new_code(sb, log))
    job = {"job": "refresh", "store": str(tmp_settings.token_store_path)}
    proc = run_child(sb, job, env={KILL_AT_ENV: "after-response"})  # rotated, answer lost
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL

    key = new_key()
    database = _pg(postgres, tmp_path, key)
    assert migrate(source, database).records == 1
    settings = tmp_settings.with_changes(token_store_key=Secret(key))
    moved = TokenManager(settings, database, clock=sb.now)
    assert moved.inflight(*old.key) is not None
    with pytest.raises(RefreshResponseLostError, match="Token rotated, response lost"):
        moved.refresh(force=True)  # not a bare invalid_grant: the record came along
    assert grants(sb)["refresh_token"] == 2


def test_migrate_recovers_a_received_pair_before_copying(
    sb: Sandbox, tmp_settings: Settings, tmp_path: Path, postgres: PostgresServer
) -> None:
    log = AttemptLog(tmp_path / "attempts.json")
    source = FileTokenStore(tmp_settings.token_store_path)
    old = TokenManager(tmp_settings, source, log, clock=sb.now).exchange(new_code(sb, log))
    job = {"job": "refresh", "store": str(tmp_settings.token_store_path)}
    proc = run_child(sb, job, env={KILL_AT_ENV: "after-received"})
    proc.communicate(timeout=60)
    database = _pg(postgres, tmp_path, new_key())
    migrate(source, database)
    moved = database.load(*old.key)
    assert moved is not None
    assert moved.refresh_token != old.refresh_token  # the pair Stripe sent, not the dead one
    assert token_works(sb, moved.access_token)
    assert database.records() == []


def test_migrate_refuses_to_overwrite_other_tokens_unless_asked(
    sb: Sandbox, tmp_settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    log = AttemptLog(tmp_path / "attempts.json")
    source = FileTokenStore(tmp_path / "a" / "tokens.json")
    target = FileTokenStore(tmp_path / "b" / "tokens.json")
    TokenManager(tmp_settings, source, log, clock=sb.now).exchange(new_code(sb, log))
    TokenManager(tmp_settings, target, log, clock=sb.now).exchange(new_code(sb, log))
    before = target.path.read_bytes()
    with pytest.raises(TokenStoreError, match=r"Nothing was copied.*--replace"):
        migrate(source, target)
    assert target.path.read_bytes() == before
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("STRIPE_OAUTH_NB_TARGET", "sandbox")
    argv = ["tokens", "migrate", "--from", str(source.path), "--to", str(target.path)]
    assert main(argv) == 1
    assert main([*argv, "--replace"]) == 0
    assert "Copied 1 token set(s)" in capsys.readouterr().out
    assert target.all() == source.all()


@pytest.mark.slow
def test_the_flow_and_walkthrough_run_unchanged_on_a_postgres_store(
    sb: Sandbox, tmp_path: Path, postgres: PostgresServer
) -> None:
    from stripe_oauth_nb import Flow, Target
    from stripe_oauth_nb.widgets import Walkthrough

    dsn, key = postgres.create_database(), new_key()
    settings = sb.settings().with_changes(token_store_dsn=Secret(dsn), token_store_key=Secret(key))
    flow = Flow(Target(settings, kind="sandbox-url"), workdir=tmp_path)
    wt = Walkthrough(flow, tick=False)
    try:
        assert flow.stage() == "manifest"
        assert wt.manifest_form.register_button is not None
        wt.manifest_form.register_button.click()
        assert wt.callback_form is not None
        wt.callback_form.build_button.click()
        assert wt.callback_form.link is not None
        flow.target.approve(wt.callback_form.link.url)
        wt.callback_form.wait(10)
        wt.refresh()
        assert wt.tokens_panel is not None
        wt.tokens_panel.exchange_button.click()
        assert flow.stored_tokens() is not None
        assert wt.validate_panel is not None
        wt.validate_panel.run.click()
        assert flow.report is not None
        assert flow.report.ok
        assert set(flow.steps().values()) == {"done"}
    finally:
        wt.close()
        flow.close()
    # everything went to the database: nothing on this machine's disk
    assert not list(tmp_path.glob("tokens.json*"))
    assert not list(tmp_path.glob("attempts.json*"))
    database = PostgresTokenStore(dsn, cipher=StoreCipher.from_setting(key), spool=tmp_path)
    stored = database.all()
    assert len(stored) == 1
    assert database.attempt_records().read()  # the install link's attempt, in its table
    dump = postgres.dump(dsn.rsplit("/", 1)[1].split("?")[0])
    assert stored[0].access_token.reveal() not in dump

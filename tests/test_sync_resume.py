"""A sync killed with SIGKILL at any point resumes on the next run: the tables then equal the
API, with no row twice, and a reader never saw a table half loaded."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from _sync_helpers import (
    START,
    install,
    leftovers,
    manager,
    sandbox_counts,
    sync_app,
    table_counts,
    wider_than_owner,
)

from stripe_oauth_nb.sandbox import Sandbox
from stripe_oauth_nb.sync import sync
from stripe_oauth_nb.tokens import FileTokenStore, TokenManager

#: Real processes or kernels in most tests here: out of the fast loop (`-m "not slow"`).
pytestmark = pytest.mark.slow

pytest.importorskip("dlt")

CHILD = Path(__file__).with_name("_sync_child.py")


@pytest.fixture
def world() -> Iterator[Sandbox]:
    with Sandbox(customers=60, rate_limit=False, start=START, latency_ms=20) as sb:
        yield sb


@pytest.mark.parametrize("kill_at", ["reading", "loading", "loaded"])
def test_killed_sync_resumes_and_tables_equal_the_api(
    world: Sandbox, tmp_path: Path, kill_at: str
) -> None:
    app = sync_app(world)
    settings, _ = manager(world, app)
    store = tmp_path / "tokens.json"
    settings = settings.with_changes(token_store_path=store)
    tokens = TokenManager(settings, FileTokenStore(store), clock=world.now)
    account = install(world, tokens, app).account_id
    db, work = tmp_path / "stripe.duckdb", tmp_path / "work"
    world.simulate(1)  # events exist, so a resumed run may be incremental
    command = [
        sys.executable,
        str(CHILD),
        world.api_base,
        world.test.secret_key,
        app.client_id("test"),
        str(store),
        str(db),
        str(work),
    ]
    seen = []
    env = dict(os.environ)
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env) as child:
        assert child.stdout is not None
        for line in child.stdout:
            seen.append(line.strip())
            stage, _, rows = line.partition(" ")
            if stage == kill_at and (stage != "reading" or not rows.endswith(" 0\n")):
                child.send_signal(signal.SIGKILL)
                break
        child.wait(timeout=60)
    assert child.returncode == -signal.SIGKILL, seen

    world.simulate(2)
    report = sync(settings, tokens, db=db, work_dir=work)
    assert report.ok, report.summary()
    counts = table_counts(db, account)
    assert counts == sandbox_counts(world, account)
    # what the killed run left (spill files, packages) is gone; the rest is owner-only
    assert leftovers(work) == []
    assert wider_than_owner(work) == []

    import duckdb

    with duckdb.connect(str(db), read_only=True) as con:
        for name, count in counts.items():
            if count:
                sql = f"SELECT count(DISTINCT id) FROM {name}"  # noqa: S608
                assert con.execute(sql).fetchone()[0] == count, name  # type: ignore[index]

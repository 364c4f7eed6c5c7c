"""What the sync does to dlt once per process (``sync/_dltconfig``), and the per-table cost it
avoids (an empty table costs no dlt table job once the table exists).

Telemetry is checked in fresh interpreters: dlt starts it once per process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Annotated, Any

import pytest

from stripe_oauth_nb.sync._destination import open_destination
from stripe_oauth_nb.sync._load import Batch, Loader
from stripe_oauth_nb.sync._spill import Spill

pytest.importorskip("dlt")

ACCT = "acct_EXAMPLE1"

#: Opens a DuckDB destination and one account's pipeline the way a sync does (optionally after
#: other code of the process used dlt first), then prints whether dlt's tracker is sending.
TRACKER = r"""
import json, sys
from pathlib import Path
folder, first = Path(sys.argv[1]), sys.argv[2] == "dlt-first"
if first:  # a notebook used dlt before the sync, with dlt's defaults
    import dlt
    dlt.pipeline(pipeline_name="theirs", destination="duckdb", pipelines_dir=str(folder / "p"))
from dlt.common.runtime import anon_tracker
from stripe_oauth_nb.sync._destination import open_destination
from stripe_oauth_nb.sync._load import Loader
before = anon_tracker._ANON_TRACKER_ENDPOINT is not None
with open_destination(db=folder / "x.duckdb") as dest:
    Loader(dest, "main").pipeline("acct_EXAMPLE1", False)
print(json.dumps({"before": before, "after": anon_tracker._ANON_TRACKER_ENDPOINT is not None}))
"""


@pytest.mark.parametrize(("first", "sending_before"), [("sync-first", False), ("dlt-first", True)])
def test_a_sync_sends_no_telemetry(tmp_path: Path, first: str, sending_before: bool) -> None:
    env = {k: v for k, v in os.environ.items() if k != "RUNTIME__DLTHUB_TELEMETRY"}
    done = subprocess.run(
        [sys.executable, "-c", TRACKER, str(tmp_path), first],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    # dlt's own default is to send: the second case shows it was on before the sync stopped it
    assert seen == {"before": sending_before, "after": False}


def test_remembered_secret_hints_answer_as_dlt_does() -> None:
    from dlt.common.configuration.providers import environ
    from dlt.common.configuration.specs import base_configuration
    from dlt.common.configuration.specs.base_configuration import CredentialsConfiguration
    from dlt.common.typing import TSecretStrValue

    from stripe_oauth_nb.sync._dltconfig import prepare

    prepare()
    remembered = environ.is_secret_hint
    assert remembered is not base_configuration.is_secret_hint  # the lookups use the memo
    hints: list[Any] = [
        str,
        int,
        TSecretStrValue,
        CredentialsConfiguration,
        str | None,
        TSecretStrValue | None,
        Annotated[str, "a note"],
        list[str],
    ]
    for hint in hints * 2:  # the second time from memory
        assert remembered(hint) == base_configuration.is_secret_hint(hint), hint
    assert remembered(TSecretStrValue)
    assert not remembered(str)


def test_duckdb_writes_a_load_to_its_file_as_it_commits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """dlt's 1 GB checkpoint threshold is replaced by the sync's: a load whose log passes it is
    written into the database file when it commits, not kept in the log and DuckDB's memory
    (the sync's own checkpoint after a load is put out of reach here, so DuckDB's is seen)."""
    from stripe_oauth_nb.sync import _destination
    from stripe_oauth_nb.sync._privacy import duckdb_wal

    monkeypatch.setattr(_destination, "CHECKPOINT_THRESHOLD", "1MiB")
    monkeypatch.setattr(_destination, "CHECKPOINT_WAL_BYTES", 1 << 40)
    rows = [{**customer(n), "description": f"{n:06d} " + "x" * 200} for n in range(20_000)]
    with open_destination(db=tmp_path / "stripe.duckdb") as dest:
        spill = Spill(tmp_path / "customers")
        spill.add(rows, ACCT, False, seq=1)
        spill.close()
        loader = Loader(dest, "main")
        assert loader.load(ACCT, False, [Batch("customers", spill, {}, True)])["customers"].rows
        with loader.pipeline(ACCT, False).sql_client() as client:  # what dlt sets, as it does
            found = client.execute_sql("SELECT current_setting('checkpoint_threshold')")
        assert found == [("1.0 MiB",)]
        wal = duckdb_wal(tmp_path / "stripe.duckdb")
        # the rows are about 5 MB: at dlt's 1 GB they all stay in the log until a checkpoint
        assert (wal.stat().st_size if wal.exists() else 0) < 1 << 20


def customer(n: int) -> dict[str, Any]:
    return {"id": f"cus_{n:04d}", "object": "customer", "created": 1_700_000_000 + n}


def test_an_empty_batch_keeps_its_rows_and_moves_its_cursors(tmp_path: Path) -> None:
    """An account with nothing new in a table: no dlt job for it once the table exists, and
    its cursors still move; a full pass that reads nothing still deletes the account's rows."""
    with open_destination(db=tmp_path / "stripe.duckdb") as dest:
        loader = Loader(dest, "main")

        def spill(name: str, objects: list[dict[str, Any]]) -> Spill:
            made = Spill(tmp_path / name)
            if objects:
                made.add(objects, ACCT, False, seq=1)
            made.close()
            return made

        batch = Batch("customers", spill("a", [customer(1), customer(2)]), {"created": 1}, True)
        assert loader.load(ACCT, False, [batch])["customers"].rows == 2
        # nothing new: the table is left as it is, the cursor moves on
        counts = loader.load(
            ACCT, False, [Batch("customers", spill("b", []), {"created": 2}, False)]
        )
        assert (counts["customers"].rows, counts["customers"].deleted) == (2, 0)
        assert loader.states(ACCT, False, fresh=True) == {"customers": {"created": 2}}
        # another account's first load with nothing: the existing table gets no job, state kept
        other = loader.load(
            "acct_OTHER", False, [Batch("customers", spill("c", []), {"created": 3}, True)]
        )
        assert other["customers"].rows == 0
        assert loader.states("acct_OTHER", False, fresh=True) == {"customers": {"created": 3}}
        # a full pass that lists nothing deletes what the account had
        full = loader.load(ACCT, False, [Batch("customers", spill("d", []), {"created": 4}, True)])
        assert (full["customers"].rows, full["customers"].deleted) == (0, 2)
        assert loader.states(ACCT, False, fresh=True) == {"customers": {"created": 4}}

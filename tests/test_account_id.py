"""The one rule for an account id (``_account_id``), asked at every door an id is typed in."""

from __future__ import annotations

from pathlib import Path

import pytest

from stripe_oauth_nb._account_id import account_id_problem
from stripe_oauth_nb._cli import main
from stripe_oauth_nb.errors import SyncConfigError

GOOD = ["acct_1Nv0FGQ9RKHgCVdK", "acct_x", "acct_EXAMPLEnotthere"]
BAD = [
    "",
    "acct_",
    "acct 1Nv0FGQ9RKHgCVdK",
    "acct_1Nv0-FGQ9",
    "acct_../../etc",
    "ACCT_1Nv0FGQ9RKHgCVdK",
    "acct_1Nv0FGQ9RKHgCVdK\n",
    "cus_1Nv0FGQ9RKHgCVdK",
    "acct_" + "a" * 65,
]
SECRET = "sk_test_EXAMPLEsecretkey0123456789abcd"


@pytest.mark.parametrize("value", GOOD)
def test_account_ids_pass(value: str) -> None:
    assert account_id_problem(value) is None


@pytest.mark.parametrize("value", [*BAD, None, 17])
def test_what_is_not_an_account_id_is_named_with_what_to_give(value: object) -> None:
    problem = account_id_problem(value)
    assert problem is not None
    assert "is not an account id" in problem
    assert "tokens list" in problem


def test_a_secret_given_as_an_account_id_is_masked() -> None:
    problem = account_id_problem(SECRET)
    assert problem is not None
    assert SECRET not in problem
    assert "sk_test_" in problem


#: Every command option that takes an account id.
DOORS = [
    ["sync", "--account", "{}"],
    ["sync", "--forget", "{}"],
    ["sql", "--account", "{}", "SELECT 1"],
    ["tokens", "refresh", "--account", "{}"],
    ["validate", "--account", "{}"],
    ["login", "--account", "{}"],
]


@pytest.mark.parametrize("door", DOORS, ids=lambda d: " ".join(d[:-1]).replace("{}", "ACCT"))
def test_every_account_option_refuses_a_malformed_id_before_anything_runs(
    door: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    argv = [SECRET if part == "{}" else part for part in door]
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2  # argparse's one-line usage error
    err = capsys.readouterr().err
    assert "is not an account id" in err
    assert "Traceback" not in err
    assert SECRET not in err
    assert list(tmp_path.iterdir()) == []  # nothing opened or written


def test_sync_refuses_a_malformed_id_before_reading_tokens(tmp_path: Path) -> None:
    from stripe_oauth_nb._settings import Settings
    from stripe_oauth_nb.sync import sync

    class NoTokens:
        def get(self, *_: object) -> None:
            raise AssertionError("the token store was read")

    with pytest.raises(SyncConfigError, match="is not an account id"):
        sync(Settings(), NoTokens(), db=tmp_path / "s.duckdb", accounts=["acct_ok1", "acct-bad"])
    assert not (tmp_path / "s.duckdb").exists()

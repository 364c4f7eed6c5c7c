"""``stripe-oauth-nb manifest check|new``: exit codes, messages, JSON output."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from stripe_oauth_nb._cli import main
from stripe_oauth_nb.manifest import Manifest, check_file, write_placeholder_icon

DATA = Path(__file__).parent / "data" / "manifests"


@pytest.fixture
def good(tmp_path: Path) -> Path:
    shutil.copy(DATA / "good_oauth.json", tmp_path / "stripe-app.json")
    write_placeholder_icon(tmp_path / "icon.png")
    return tmp_path / "stripe-app.json"


def test_check_good_exits_0(good: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["manifest", "check", str(good)]) == 0
    assert "no problems found" in capsys.readouterr().out


def test_check_warnings_alone_exit_0(good: Path, capsys: pytest.CaptureFixture[str]) -> None:
    m = Manifest.load(good)
    m.set("version", "1,0")
    m.save()
    assert main(["manifest", "check", str(good)]) == 0
    assert "0 error(s), 1 warning(s)" in capsys.readouterr().out


@pytest.mark.parametrize(
    "name", ["seed_completed.json", "seed_verbatim.json", "bad_everything.json"]
)
def test_check_bad_exits_1_with_findings(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["manifest", "check", str(DATA / name)]) == 1
    out = capsys.readouterr().out
    assert "ERROR" in out
    assert "fix:" in out


def test_check_json_lists_every_finding(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["manifest", "check", str(DATA / "seed_completed.json"), "--json"]) == 1
    printed = json.loads(capsys.readouterr().out)
    expected = [f.to_dict() for f in check_file(DATA / "seed_completed.json")]
    assert printed == expected
    assert {"path", "message", "severity", "fix", "code", "line", "column"} == set(printed[0])


def test_check_json_of_a_good_manifest_is_an_empty_list(
    good: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["manifest", "check", str(good), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == []


def test_check_no_oauth(capsys: pytest.CaptureFixture[str]) -> None:
    path = str(DATA / "good_private_platform.json")
    assert main(["manifest", "check", path]) == 1
    assert main(["manifest", "check", path, "--no-oauth"]) == 0


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["manifest", "check", "does-not-exist.json"], "does not exist"),
        (["manifest", "check", "."], "is a folder"),
        (["manifest"], "usage"),
    ],
)
def test_usage_problems_exit_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_new_writes_an_oauth_ready_manifest_and_icon(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "app" / "stripe-app.json"
    code = main(
        [
            "manifest",
            "new",
            str(path),
            "--name",
            "Reports Sync",
            "--id",
            "com.example.reports",
            "--redirect-uri",
            "https://reports.example.com/cb",
            "--redirect-uri",
            "http://127.0.0.1:8765/callback",
            "--permission",
            "customer_read=List customers.",
            "--permission",
            "charge_read = Show charges.",
        ]
    )
    assert code == 0
    m = Manifest.load(path)
    assert m.redirect_uris == ["https://reports.example.com/cb", "http://127.0.0.1:8765/callback"]
    assert m.permissions == {"customer_read": "List customers.", "charge_read": "Show charges."}
    assert m.data["stripe_api_access_type"] == "oauth"
    assert m.data["distribution_type"] == "public"
    assert (tmp_path / "app" / "icon.png").exists()
    assert main(["manifest", "check", str(path)]) == 0
    assert "stripe apps upload" in capsys.readouterr().out


def test_new_defaults_to_the_local_callback(tmp_path: Path) -> None:
    path = tmp_path / "stripe-app.json"
    assert main(["manifest", "new", str(path), "--no-icon"]) == 0
    assert Manifest.load(path).redirect_uris == ["http://127.0.0.1:8765/callback"]
    assert not (tmp_path / "icon.png").exists()


def test_new_refuses_to_overwrite_without_force(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "stripe-app.json"
    path.write_text("{}", encoding="utf-8")
    assert main(["manifest", "new", str(path)]) == 2
    assert "already exists" in capsys.readouterr().err
    assert path.read_text(encoding="utf-8") == "{}"
    assert main(["manifest", "new", str(path), "--force"]) == 0
    assert Manifest.load(path).data["stripe_api_access_type"] == "oauth"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--permission", "customer_read"], "NAME=PURPOSE"),
        (["--permission", "=x"], "NAME=PURPOSE"),
        (["--id", "my app"], "may contain only letters"),
        (["--name", "Stripe Sync"], "may not contain"),
        (["--redirect-uri", "https://example.com"], "no path"),
    ],
)
def test_new_refuses_bad_values(
    tmp_path: Path, extra: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "stripe-app.json"
    assert main(["manifest", "new", str(path), *extra]) == 2
    assert message in capsys.readouterr().err
    assert not path.exists()


def test_new_into_a_folder_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["manifest", "new", str(tmp_path)]) == 2
    assert "is a folder" in capsys.readouterr().err


@pytest.mark.slow
def test_the_installed_entry_point_runs(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "stripe_oauth_nb",
            "manifest",
            "check",
            str(DATA / "seed_completed.json"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert "did you mean `distribution_type`?" in result.stdout
    assert result.stderr == ""

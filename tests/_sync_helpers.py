"""Helpers for the sync tests: an app that may read every resource, installs, and comparisons of
the tables with what the sandbox's API holds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from stripe_oauth_nb._settings import Mode, Settings
from stripe_oauth_nb._tokenset import TokenSet
from stripe_oauth_nb.api import ApiClient
from stripe_oauth_nb.sandbox import RegisteredApp, Sandbox
from stripe_oauth_nb.sync import RESOURCES
from stripe_oauth_nb.tokens import MemoryTokenStore, TokenManager

#: Every read permission the sync's resources need, and events.
READ_ALL = sorted({r.permission for r in RESOURCES} | {"event_read"})
#: The resources the sandbox counts (``Sandbox.counts``): not the balance (a row per run) nor
#: the payment methods listed per customer (``test_sync_events`` compares those with the API).
COUNTED = [r for r in RESOURCES if not r.snapshot and r.per_parent is None]
#: A fixed end of the seeded history, so every run sees the same data.
START = 1_790_000_000.0


def sync_app(sb: Sandbox, permissions: list[str] = READ_ALL) -> RegisteredApp:
    """An app (like the demo app) whose manifest asks for ``permissions``."""
    from stripe_oauth_nb.sandbox._accounts import DEMO_MANIFEST

    manifest = {
        **DEMO_MANIFEST,
        "id": f"com.example.sync-{len(permissions)}",
        "allowed_redirect_uris": list(sb.demo_app.redirect_uris),
        "permissions": [{"permission": p, "purpose": "Load it into SQL."} for p in permissions],
    }
    return sb.register_app(manifest)


def install(
    sb: Sandbox,
    tokens: TokenManager,
    app: RegisteredApp,
    mode: Mode = "test",
    account_id: str | None = None,
) -> TokenSet:
    """Tokens for (account, mode), straight from the sandbox's token endpoint logic."""
    found = TokenSet.from_response(sb.mint_tokens(mode, app, account_id), obtained_at=sb.now())
    tokens.store.save(found, authorized=True)
    return found


def cli_env(sb: Sandbox, app: RegisteredApp, store: Path) -> dict[str, str]:
    """The environment a command run in a test needs to sync ``app``'s accounts of ``sb`` with
    the tokens in the file ``store``."""
    return {
        "STRIPE_OAUTH_NB_TARGET": "sandbox",
        "STRIPE_API_BASE": sb.api_base,
        "STRIPE_MARKETPLACE_BASE": sb.marketplace_base,
        "STRIPE_SECRET_KEY_TEST": sb.test.secret_key,
        "STRIPE_CLIENT_ID_TEST": app.client_id("test"),
        "STRIPE_OAUTH_NB_TOKEN_STORE": str(store),
    }


def manager(sb: Sandbox, app: RegisteredApp, mode: Mode = "test") -> tuple[Settings, TokenManager]:
    settings = sb.settings(mode, app)
    return settings, TokenManager(settings, MemoryTokenStore(), clock=sb.now)


def table_counts(db: Path, account_id: str, livemode: bool = False) -> dict[str, int]:
    """Rows per table of one account and mode in a DuckDB file (0 for a missing table)."""
    import duckdb

    out: dict[str, int] = {}
    with duckdb.connect(str(db), read_only=True) as con:
        tables = {
            row[0] for row in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()
        }
        for r in COUNTED:
            if r.name not in tables:
                out[r.name] = 0
                continue
            sql = f"SELECT count(*) FROM {r.name} WHERE account_id = ? AND livemode = ?"  # noqa: S608
            out[r.name] = int(con.execute(sql, [account_id, livemode]).fetchone()[0])  # type: ignore[index]
    return out


def sandbox_counts(sb: Sandbox, account_id: str, mode: Mode = "test") -> dict[str, int]:
    counts = sb.counts(account_id, mode)
    return {r.name: int(counts.get(r.name, 0)) for r in COUNTED}


def api_rows(
    settings: Settings, tokens: TokenManager, account_id: str, resource: str, fields: list[str]
) -> dict[str, tuple[Any, ...]]:
    """``id -> (fields...)`` of every object the API lists for one resource."""
    spec = next(r for r in RESOURCES if r.name == resource)
    with ApiClient.from_settings(settings, tokens, account_id=account_id) as client:
        return {
            obj["id"]: tuple(obj.get(f) for f in fields)
            for obj in client.list_all(spec.path, dict(spec.params))
        }


def db_rows(
    db: Path, account_id: str, resource: str, fields: list[str]
) -> dict[str, tuple[Any, ...]]:
    import duckdb

    columns = ", ".join(["id", *fields])
    sql = f"SELECT {columns} FROM {resource} WHERE account_id = ?"  # noqa: S608
    with duckdb.connect(str(db), read_only=True) as con:
        return {row[0]: tuple(row[1:]) for row in con.execute(sql, [account_id]).fetchall()}


def install_many(
    sb: Sandbox,
    tokens: TokenManager,
    app: RegisteredApp,
    count: int,
    *,
    customers: int = 1,
    mode: Mode = "test",
) -> list[TokenSet]:
    """``count`` new small installing accounts, each with the app installed (tokens stored):
    the "1,000 installs" world of the benchmarks, fast (no HTTP, data made on first read)."""
    found = []
    for i in range(count):
        account = sb.create_account(f"Installer {i}", customers=customers)
        found.append(install(sb, tokens, app, mode, account))
    return found


def leftovers(work: Path) -> list[str]:
    """What a finished sync should not have left in its work folder: spill files, completed
    load packages (a copy of every row loaded)."""
    found = [str(p.relative_to(work)) for p in (work / "spill").rglob("*") if p.is_file()]
    for loaded in (work / "pipelines").glob("*/load/loaded/*"):
        found.append(str(loaded.relative_to(work)))
    return found


def wider_than_owner(root: Path) -> list[str]:
    """Files not 0600 and folders not 0700 under ``root`` (and ``root`` itself)."""
    import stat

    found = []
    for path in [root, *root.rglob("*")]:
        mode = stat.S_IMODE(path.lstat().st_mode)
        if mode != (0o700 if path.is_dir() else 0o600):
            found.append(f"{path.relative_to(root.parent)} {mode:04o}")
    return found

"""How long ``stripe-oauth-nb tokens refresh --all`` takes over many stored accounts.

Against the embedded sandbox with a round trip of ``--latency-ms`` (150 by default) on every
token request, ``--accounts`` installs (1,000 by default) are stored with expired access
tokens in a PostgreSQL store (a throw-away server, as the tests start it; ``--store file`` for
the file store), sealed with a store key. Then, side by side:

- the rate-limit floor: Stripe allows the developer account 25 token requests a second in test
  mode (100 in live), so no client can refresh N test-mode sets faster than N / 25 seconds;
- ``tokens refresh --all`` run as a command (a separate process, start-up included);
- a sequential loop over ``TokenManager.refresh`` (what a script without ``--all`` does).

Every figure is checked: the sandbox must have seen exactly N refreshes in each run.

    python bench/bench_refresh_all.py [--accounts 1000] [--latency-ms 150] [--store postgres|file]
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import os
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the throw-away PostgreSQL server of the tests

from stripe_oauth_nb._masking import Secret  # noqa: E402
from stripe_oauth_nb._tokenset import TokenSet  # noqa: E402
from stripe_oauth_nb.sandbox import Sandbox  # noqa: E402
from stripe_oauth_nb.tokens import FileTokenStore, TokenManager, TokenStore  # noqa: E402
from stripe_oauth_nb.tokens._crypto import StoreCipher, new_key  # noqa: E402

TEST_MODE_RATE = 25.0


def _sandbox(latency_ms: float) -> tuple[Sandbox, bool]:
    """A sandbox with ``latency_ms`` per request: its own option where it has one, else a delay
    fault per request (injected before each run)."""
    if "latency_ms" in inspect.signature(Sandbox).parameters:
        return Sandbox(customers=1, latency_ms=latency_ms).start(), True  # type: ignore[call-arg]
    return Sandbox(customers=1).start(), False


def _delay(sb: Sandbox, native: bool, count: int, latency_ms: float) -> None:
    if not native:
        sb.inject_fault("token", "delay", times=count, seconds=latency_ms / 1000)


def _refreshes(sb: Sandbox) -> int:
    return int(sb.stats()["grants"].get("refresh_token", 0))


def _age(store: TokenStore, sets: list[TokenSet]) -> list[TokenSet]:
    aged = [dataclasses.replace(t, obtained_at=t.obtained_at - 3700) for t in sets]
    if isinstance(store, FileTokenStore):
        store.save_many(aged)
    else:
        for tokens in aged:
            store.save(tokens)
    return aged


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=1000)
    parser.add_argument("--latency-ms", type=float, default=150.0)
    parser.add_argument("--store", choices=["postgres", "file"], default="postgres")
    parser.add_argument("--workers", type=int, default=16)
    args = parser.parse_args()
    n = args.accounts
    key = new_key()
    cipher = StoreCipher.from_setting(key)
    work = Path(tempfile.mkdtemp(prefix="bench-refresh-all-"))
    server = None
    sb, native = _sandbox(args.latency_ms)
    try:
        store: TokenStore
        if args.store == "postgres":
            from _postgres import PostgresServer

            server = PostgresServer().start()
            location = server.create_database()
            from stripe_oauth_nb.tokens._postgres import PostgresTokenStore

            store = PostgresTokenStore(location, cipher=cipher, spool=work / "spool")
        else:
            location = str(work / "cfg" / "tokens.json")
            store = FileTokenStore(location, cipher=cipher)

        print(f"Setting up {n:,} installs in the sandbox and the {args.store} store ...")
        sets = []
        for i in range(n):
            account = sb.create_account(f"Installer {i}")
            body = sb.mint_tokens("test", account_id=account)
            sets.append(TokenSet.from_response(body, obtained_at=sb.now()))
        _age(store, sets)

        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "HOME": str(work),
            "XDG_STATE_HOME": str(work / "state"),
            "STRIPE_OAUTH_NB_TARGET": "sandbox",
            "STRIPE_API_BASE": sb.api_base,
            "STRIPE_SECRET_KEY_TEST": sb.test.secret_key,
            "STRIPE_SECRET_KEY_LIVE": sb.live.secret_key,
            "STRIPE_OAUTH_NB_TOKEN_STORE": location,
            "STRIPE_OAUTH_NB_STORE_KEY": key,
        }
        _delay(sb, native, n, args.latency_ms)
        before = _refreshes(sb)
        started = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-m", "stripe_oauth_nb", "tokens", "refresh", "--all",
             "--workers", str(args.workers)],
            cwd=work, env=env, capture_output=True, text=True, check=False,
        )  # fmt: skip
        all_wall = time.monotonic() - started
        sent = _refreshes(sb) - before
        if done.returncode != 0 or sent != n:
            print(done.stdout[-2000:], done.stderr[-2000:])
            raise SystemExit(f"refresh --all: exit {done.returncode}, {sent} refreshes, not {n}")
        print(done.stdout.strip().splitlines()[-1])

        settings = sb.settings().with_changes(token_store_key=Secret(key))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            manager = TokenManager(settings, store, clock=sb.now)
        current = _age(store, store.all())
        _delay(sb, native, n, args.latency_ms)
        before = _refreshes(sb)
        started = time.monotonic()
        for tokens in current:
            manager.refresh(*tokens.key)
        loop_wall = time.monotonic() - started
        if _refreshes(sb) - before != n:
            raise SystemExit("the sequential loop did not refresh every set once")

        floor = n / TEST_MODE_RATE
        latency = "sandbox latency_ms" if native else "a delay fault per request"
        print()
        print(f"{n:,} test-mode installs, {args.latency_ms:g} ms per token request ({latency}), "
              f"{args.store} store, tokens sealed; {os.cpu_count()} CPUs")  # fmt: skip
        print(f"  {'rate-limit floor (N / 25 per s)':<44} {floor:8.1f} s")
        print(f"  {'tokens refresh --all (' + str(args.workers) + ' workers, a process)':<44} "
              f"{all_wall:8.1f} s   {all_wall / floor:5.2f} x the floor")  # fmt: skip
        print(f"  {'sequential loop of TokenManager.refresh':<44} {loop_wall:8.1f} s   "
              f"{loop_wall / all_wall:5.2f} x slower than --all")  # fmt: skip
        return 0
    finally:
        sb.stop()
        if server is not None:
            server.remove()


if __name__ == "__main__":
    sys.exit(main())

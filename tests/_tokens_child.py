"""A separate process for the tokens tests (run by path; the job arrives as JSON on stdin).

Jobs:
- ``race``: ``threads`` threads wait for ``go`` (a file the parent creates), then all call
  ``access_token()`` at once; prints one JSON line per thread with fingerprints of the result.
- ``refresh``: one ``refresh(force=True)``; with ``STRIPE_OAUTH_NB_TEST_KILL_AT`` set, the
  process dies at that point. ``mid-write`` is added here: SIGKILL when the new store file is
  complete in its temp file, just before ``os.replace`` puts it in place.
- ``host``: "another machine": prints ``ready``, waits for a ``go`` line on stdin (no shared
  file), then one ``access_token()``; prints fingerprints of what it got.

``store`` is a file path or a ``postgresql://`` DSN; ``STRIPE_OAUTH_NB_STORE_KEY`` in the
environment seals tokens, as it would for a user.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

from stripe_oauth_nb._masking import Secret
from stripe_oauth_nb._settings import ModeCredentials, Settings
from stripe_oauth_nb.tokens import TokenManager, open_store
from stripe_oauth_nb.tokens._checkpoint import KILL_AT_ENV


def _fp(token: Secret) -> str:
    return hashlib.sha256(token.reveal().encode()).hexdigest()[:16]


def _settings(info: dict[str, Any], store: str) -> Settings:
    dsn = Secret(store) if store.startswith("postgresql://") else None
    key = os.environ.get("STRIPE_OAUTH_NB_STORE_KEY")
    return Settings(
        target="sandbox",
        mode="test",
        api_base=info["api_base"],
        marketplace_base=info["marketplace_base"],
        test=ModeCredentials("test", Secret(info["test"]["secret_key"]), info["test"]["client_id"]),
        live=ModeCredentials("live", Secret(info["live"]["secret_key"]), info["live"]["client_id"]),
        token_store_path=Path(store) if dsn is None else Path("unused.json"),
        token_store_dsn=dsn,
        token_store_key=Secret(key) if key else None,
    )


def _kill_before_replace(store: Path) -> None:
    real = os.replace

    def replace(src: Any, dst: Any, **kwargs: Any) -> None:
        if Path(dst) == store:
            os.kill(os.getpid(), signal.SIGKILL)
        real(src, dst, **kwargs)

    os.replace = replace  # type: ignore[assignment]


def main() -> int:
    job = json.loads(sys.stdin.readline())
    store = str(job["store"])
    settings = _settings(job["sandbox"], store)
    manager = TokenManager(settings, open_store(settings))
    if job["job"] == "host":
        print("ready", flush=True)
        if sys.stdin.readline().strip() != "go":
            return 2
        token = manager.access_token()
        tokens = manager.get()
        print(json.dumps({"access": _fp(token), "refresh": _fp(tokens.refresh_token)}))
        return 0
    if job["job"] == "refresh":
        if os.environ.get(KILL_AT_ENV) == "mid-write":
            _kill_before_replace(Path(store))
        tokens = manager.refresh(force=True)
        print(
            json.dumps({"access": _fp(tokens.access_token), "refresh": _fp(tokens.refresh_token)})
        )
        return 0

    threads = int(job["threads"])
    go = Path(job["go"])
    barrier = threading.Barrier(threads)
    results: list[dict[str, str]] = []
    lock = threading.Lock()

    def work() -> None:
        barrier.wait()
        while not go.exists():
            time.sleep(0.002)
        try:
            token = manager.access_token()
            tokens = manager.get()
            row = {
                "access": _fp(token),
                "refresh": _fp(tokens.refresh_token),
                "pid": str(os.getpid()),
            }
        except Exception as exc:  # reported to the parent, which fails the test
            row = {"error": f"{type(exc).__name__}: {exc}"}
        with lock:
            results.append(row)

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for worker in workers:
        worker.start()
    Path(job["ready"]).touch()
    for worker in workers:
        worker.join()
    for row in results:
        print(json.dumps(row))
    return 0


if __name__ == "__main__":
    sys.exit(main())

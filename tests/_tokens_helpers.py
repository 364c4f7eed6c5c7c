"""Helpers for the tokens tests: real codes from the sandbox's consent page, and small checks."""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from stripe_oauth_nb._http import httpx
from stripe_oauth_nb._masking import Secret
from stripe_oauth_nb._settings import Mode
from stripe_oauth_nb._tokenset import TokenSet
from stripe_oauth_nb.oauth._attempts import Attempt, AttemptLog, AuthorizationCode
from stripe_oauth_nb.sandbox import Sandbox
from stripe_oauth_nb.tokens import TokenStore

CHILD = Path(__file__).with_name("_tokens_child.py")
ROOT = Path(__file__).resolve().parents[1]


def new_code(sb: Sandbox, attempts: AttemptLog, mode: Mode = "test") -> AuthorizationCode:
    """Record an attempt, approve its install link on the sandbox, return the code it gave."""
    app = sb.demo_app
    redirect = app.redirect_uris[0]
    if mode == "live":  # live install links need an https redirect URI: add one to the demo app
        from stripe_oauth_nb.sandbox._accounts import DEMO_MANIFEST

        redirect = "https://example.com/callback"
        if redirect not in app.redirect_uris:
            uris = [*app.redirect_uris, redirect]
            sb.register_app({**DEMO_MANIFEST, "allowed_redirect_uris": uris})
    state = secrets.token_urlsafe(24)
    attempt = Attempt(
        state=Secret(state),
        mode=mode,
        client_id=app.client_ids[mode],
        redirect_uri=redirect,
        created_at=time.time(),
    )
    attempts.record(attempt)
    query = urlencode({"client_id": attempt.client_id, "redirect_uri": redirect, "state": state})
    location = sb.approve(f"{sb.marketplace_base}/oauth/v2/authorize?{query}", follow=False)
    params = parse_qs(urlsplit(location).query)
    assert params["state"] == [state]
    return AuthorizationCode(Secret(params["code"][0]), attempt)


def grants(sb: Sandbox) -> dict[str, int]:
    """Token requests the sandbox received, by grant type."""
    found: dict[str, int] = sb.stats()["grants"]
    return {"authorization_code": 0, "refresh_token": 0, **found}


def fp(token: Secret) -> str:
    return hashlib.sha256(token.reveal().encode()).hexdigest()[:16]


def token_works(sb: Sandbox, token: Secret) -> bool:
    """Whether the sandbox accepts ``token`` on GET /v1/account."""
    response = httpx.get(
        f"{sb.api_base}/v1/account", auth=(token.reveal(), ""), timeout=5.0, trust_env=False
    )
    return response.status_code == 200


def aged(tokens: TokenSet, seconds: float = 3700.0) -> TokenSet:
    """The same set, obtained ``seconds`` earlier (so its access token looks expired)."""
    from dataclasses import replace

    return replace(tokens, obtained_at=tokens.obtained_at - seconds)


def run_child(
    sb: Sandbox,
    job: dict[str, Any],
    *,
    env: dict[str, str] | None = None,
    timeout: float = 60,
    keep_stdin: bool = False,
) -> subprocess.Popen[str]:
    """Start ``_tokens_child.py`` with ``job`` (plus the sandbox's keys) on its stdin; with
    ``keep_stdin`` the pipe stays open for more lines (the ``host`` job's ``go``)."""
    payload = json.dumps({"sandbox": sb.connection_info(), **job}) + "\n"
    child_env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    proc = subprocess.Popen(
        [sys.executable, str(CHILD)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=child_env,
    )
    assert proc.stdin is not None
    proc.stdin.write(payload)
    if keep_stdin:
        proc.stdin.flush()
        return proc
    proc.stdin.close()
    proc.stdin = None  # so that communicate() does not flush it again
    return proc


@contextmanager
def lock_held_elsewhere(store: TokenStore, key: tuple[str, bool]) -> Iterator[None]:
    """Another thread holds ``key``'s refresh lock in ``store`` for the duration of the block."""
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with store.locked(*key, 5.0):
            held.set()
            release.wait(5)

    holder = threading.Thread(target=hold)
    holder.start()
    held.wait(5)
    try:
        yield
    finally:
        release.set()
        holder.join()


@contextmanager
def disk_full(
    monkeypatch: Any, path: Path, *, times: int = 10**9, skip: int = 0
) -> Iterator[dict[str, int]]:
    """Writes that replace ``path`` fail with ENOSPC (``times`` times, after ``skip`` writes
    that work), as on a full disk."""
    import errno

    from stripe_oauth_nb._fileio import ReservedWrite

    real = ReservedWrite.commit
    left = {"fails": times, "skip": skip}

    def commit(self: ReservedWrite, text: str) -> None:
        if self.path == path and left["skip"] > 0:
            left["skip"] -= 1
        elif self.path == path and left["fails"] > 0:
            left["fails"] -= 1
            self.discard()
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real(self, text)

    with monkeypatch.context() as patch:
        patch.setattr(ReservedWrite, "commit", commit)
        yield left

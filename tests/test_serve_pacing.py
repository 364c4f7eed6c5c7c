"""Token requests of one serve process are spaced under the token endpoint's rate limit (the
toolkit's ``ModeLimiter``, tested in test_tokens_bulk; here: that serve uses it)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from _serve_helpers import browser, free_port, manifest_for, start_install

from stripe_oauth_nb._errors import ConfigError
from stripe_oauth_nb.oauth._attempts import AttemptLog
from stripe_oauth_nb.sandbox import Sandbox
from stripe_oauth_nb.serve import InstallServer, ServeConfig
from stripe_oauth_nb.tokens import MemoryTokenStore


def test_installs_faster_than_the_rate_wait_for_their_turn(tmp_path: Path) -> None:
    port = free_port()
    manifest = manifest_for(tmp_path, f"http://127.0.0.1:{port}/callback")
    with Sandbox(customers=0) as sb:
        with pytest.raises(ConfigError, match="positive"):
            ServeConfig.for_sandbox(sb, manifest, port=port, signing_key="k" * 40, token_rate=0)
        config = ServeConfig.for_sandbox(
            sb,
            manifest,
            port=port,
            signing_key="EXAMPLE-pacing-signing-key-0123456789",
            store=MemoryTokenStore(),
            attempts=AttemptLog(),
            token_rate=5.0,
        )
        with InstallServer(config) as server:
            browsers = [browser() for _ in range(5)]
            try:
                visits = [start_install(b, server.url, None) for b in browsers]
                started = time.monotonic()
                statuses = [
                    b.get(v.callback_url).status_code for b, v in zip(browsers, visits, strict=True)
                ]
                elapsed = time.monotonic() - started
            finally:
                for b in browsers:
                    b.close()
    assert statuses == [200] * 5
    assert elapsed >= 0.8  # five exchanges at 5 a second: four gaps of 0.2 s at least

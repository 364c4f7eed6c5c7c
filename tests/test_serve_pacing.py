"""Token requests of one serve process are spaced under the token endpoint's rate limit."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from _serve_helpers import browser, free_port, manifest_for, start_install

from stripe_oauth_nb._attempts import AttemptLog
from stripe_oauth_nb._errors import ConfigError
from stripe_oauth_nb._tokens import MemoryTokenStore
from stripe_oauth_nb.sandbox import Sandbox
from stripe_oauth_nb.serve import InstallServer, ServeConfig
from stripe_oauth_nb.serve._pacing import Pacer


class FakeTime:
    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(round(seconds, 6))


def test_requests_of_one_mode_are_spaced_by_one_over_the_rate() -> None:
    fake = FakeTime()
    pacer = Pacer(10.0, clock=fake.clock, sleep=fake.sleep)
    waits = [pacer.wait("test") for _ in range(4)]
    assert [round(w, 6) for w in waits] == [0.0, 0.1, 0.2, 0.3]
    assert fake.slept == [0.1, 0.2, 0.3]
    assert pacer.wait("live") == 0.0  # each mode has its own turn
    fake.now += 10  # later requests find the road clear
    assert pacer.wait("test") == 0.0


def test_a_rate_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        Pacer(0)


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

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from stripe_oauth_nb._errors import ConfigError, ModeMismatchError, StripeOAuthNBError
from stripe_oauth_nb._settings import Settings, load_settings

TEST_KEY = "sk_test_" + "a" * 24 + "1234"
LIVE_KEY = "sk_live_" + "b" * 24 + "5678"


def test_nothing_configured_means_sandbox(tmp_path: Path) -> None:
    settings = load_settings(env_file=tmp_path / "missing.env", environ={})
    assert settings.target == "sandbox"
    assert settings.is_sandbox
    assert settings.mode == "test"
    assert "sandbox" in settings.describe()
    assert "STRIPE_OAUTH_NB_TARGET=stripe" in settings.describe()


def test_env_file_with_real_keys_targets_stripe(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text(
        f"STRIPE_SECRET_KEY_TEST={TEST_KEY}\nSTRIPE_CLIENT_ID_TEST=ca_abc123\n"
        "STRIPE_REDIRECT_URI=https://example.com/cb\n"
        f"STRIPE_OAUTH_NB_TOKEN_STORE={tmp_path}/t.json\n"
    )
    settings = load_settings(env_file=env, environ={})
    assert settings.target == "stripe"
    assert settings.api_base == "https://api.stripe.com"
    assert settings.test.secret_key is not None
    assert settings.test.secret_key.reveal() == TEST_KEY
    assert settings.test.client_id == "ca_abc123"
    assert settings.redirect_uri == "https://example.com/cb"
    assert settings.token_store_path == tmp_path / "t.json"


def test_environment_wins_over_env_file(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text("STRIPE_OAUTH_NB_MODE=live\n")
    settings = load_settings(env_file=env, environ={"STRIPE_OAUTH_NB_MODE": "test"})
    assert settings.mode == "test"


@pytest.mark.parametrize(
    ("environ", "error", "hint"),
    [
        ({"STRIPE_SECRET_KEY_TEST": LIVE_KEY}, ModeMismatchError, "sk_test_"),
        ({"STRIPE_SECRET_KEY_LIVE": TEST_KEY}, ModeMismatchError, "sk_live_"),
        ({"STRIPE_SECRET_KEY_TEST": "pk_test_" + "x" * 30}, ConfigError, "publishable key"),
        ({"STRIPE_SECRET_KEY_TEST": "nonsense-key-value"}, ConfigError, "API keys"),
        ({"STRIPE_CLIENT_ID_TEST": "abc"}, ConfigError, "ca_"),
        ({"STRIPE_OAUTH_NB_TARGET": "prod"}, ConfigError, "'sandbox' or 'stripe'"),
        ({"STRIPE_OAUTH_NB_MODE": "staging"}, ConfigError, "'test' or 'live'"),
        ({"STRIPE_OAUTH_NB_TARGET": "stripe"}, ConfigError, "STRIPE_SECRET_KEY_TEST"),
    ],
)
def test_bad_settings_are_refused_with_a_fix(
    tmp_path: Path, environ: dict[str, str], error: type[Exception], hint: str
) -> None:
    with pytest.raises(error) as caught:
        load_settings(env_file=tmp_path / "none.env", environ=environ)
    assert isinstance(caught.value, StripeOAuthNBError)
    assert hint in str(caught.value)
    for key in (TEST_KEY, LIVE_KEY):
        assert key not in str(caught.value)
        assert all(key not in str(arg) for arg in caught.value.args)


def test_settings_repr_masks_keys(tmp_path: Path) -> None:
    settings = load_settings(
        env_file=tmp_path / "none.env",
        environ={"STRIPE_SECRET_KEY_TEST": TEST_KEY, "STRIPE_SECRET_KEY_LIVE": LIVE_KEY},
    )
    shown = repr(settings) + str(settings)
    assert TEST_KEY not in shown
    assert LIVE_KEY not in shown
    assert "sk_test_…1234" in shown


def test_missing_credentials_say_what_to_set(tmp_path: Path) -> None:
    settings = load_settings(env_file=tmp_path / "none.env", environ={})
    with pytest.raises(ConfigError, match="STRIPE_CLIENT_ID_LIVE"):
        settings.credentials("live").require_client_id()
    with pytest.raises(ConfigError, match="STRIPE_SECRET_KEY_TEST"):
        settings.credentials("test").require_secret_key()


# -- plain HTTP only to this machine ---------------------------------------------------------


@pytest.mark.parametrize("name", ["STRIPE_API_BASE", "STRIPE_MARKETPLACE_BASE"])
@pytest.mark.parametrize(
    "value",
    [
        "http://some-host:18899",
        "http://10.1.2.3",
        "::::",
        "ftp://api.stripe.com",
        "https://a:99999",
    ],
)
def test_base_urls_must_be_https_or_loopback(tmp_path: Path, name: str, value: str) -> None:
    environ = {"STRIPE_SECRET_KEY_TEST": TEST_KEY, name: value}
    with pytest.raises(ConfigError, match=name) as caught:
        load_settings(env_file=tmp_path / "none.env", environ=environ)
    assert "https://" in str(caught.value)


@pytest.mark.parametrize(
    "value",
    ["http://127.0.0.1:12111", "http://localhost:9", "http://[::1]:80", "https://x.example"],
)
def test_loopback_http_and_any_https_are_accepted(tmp_path: Path, value: str) -> None:
    settings = load_settings(env_file=tmp_path / "none.env", environ={"STRIPE_API_BASE": value})
    assert settings.api_base == value


def test_settings_made_by_hand_are_checked_too() -> None:
    with pytest.raises(ConfigError, match="plain http"):
        Settings(api_base="http://evil.example")
    with pytest.raises(ConfigError, match="STRIPE_MARKETPLACE_BASE"):
        Settings().with_changes(marketplace_base="http://evil.example")


# -- values echoed in errors are masked whatever setting they came from ------------------------


@pytest.mark.parametrize("name", ["STRIPE_OAUTH_NB_TARGET", "STRIPE_OAUTH_NB_MODE"])
@pytest.mark.parametrize(
    "secret",
    [
        TEST_KEY,
        "rk_live_" + "c" * 30,
        "rt_" + "d" * 30,
        "ac_EXAMPLE" + "e" * 20,
        "Zm9vYmFyYmF6cXV4cXV1eDEyMzQ1Njc4",
    ],
)
def test_a_secret_in_the_wrong_setting_is_masked(tmp_path: Path, name: str, secret: str) -> None:
    with pytest.raises(ConfigError, match=name) as caught:
        load_settings(env_file=tmp_path / "none.env", environ={name: secret})
    assert secret not in str(caught.value)
    assert secret[:-4] not in str(caught.value)
    assert all(secret not in str(arg) for arg in caught.value.args)


def test_a_plain_wrong_word_is_still_quoted(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="'staging'"):
        load_settings(env_file=tmp_path / "none.env", environ={"STRIPE_OAUTH_NB_MODE": "staging"})


@pytest.mark.parametrize("name", ["STRIPE_API_BASE", "STRIPE_MARKETPLACE_BASE"])
def test_a_key_in_a_base_url_setting_is_masked(tmp_path: Path, name: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(env_file=tmp_path / "none.env", environ={name: TEST_KEY})
    assert TEST_KEY not in str(caught.value)


# -- the .env file -----------------------------------------------------------------------------


def _env_fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda p: p.write_bytes(b"STRIPE_OAUTH_NB_MODE=t\xe9st\n"), "not UTF-8"),
        (lambda p: p.write_bytes(b"\xff\xfe\x00\x01" * 10), "not UTF-8"),
        (lambda p: p.mkdir(), "folder"),
        (_env_fifo, "not a regular file"),
        (lambda p: p.write_bytes(b"# " + b"x" * (2 * 1024 * 1024)), "larger than"),
    ],
    ids=["latin-1", "binary", "folder", "fifo", "huge"],
)
def test_an_unreadable_env_file_is_one_clear_error(
    tmp_path: Path, make: Callable[[Path], object], words: str
) -> None:
    env = tmp_path / ".env"
    make(env)
    started = time.monotonic()
    with pytest.raises(ConfigError, match=words) as caught:
        load_settings(env_file=env, environ={})
    assert time.monotonic() - started < 10  # a FIFO must not block
    assert str(env) in str(caught.value)
    assert "UTF-8" in str(caught.value)


def test_a_bom_is_accepted(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_bytes("\ufeffSTRIPE_OAUTH_NB_MODE=live\n".encode())
    assert load_settings(env_file=env, environ={}).mode == "live"


# -- refused before any request, end to end ------------------------------------------------------


@pytest.mark.parametrize(
    "argv", [["tokens", "refresh", "--force"], ["validate"], ["tokens", "status"]]
)
def test_a_plain_http_api_base_gets_no_request_at_all(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
) -> None:
    """The name resolves to a live listener here, so a request would be seen if one were sent."""
    import socket
    import threading

    from stripe_oauth_nb._cli import main
    from stripe_oauth_nb._masking import Secret
    from stripe_oauth_nb._tokenset import TokenSet
    from stripe_oauth_nb.tokens import FileTokenStore

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.settimeout(0.2)
    port = listener.getsockname()[1]
    seen: list[bytes] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(2)
                seen.append(conn.recv(65536))

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    real = socket.getaddrinfo

    def resolve(host: object, *args: object, **kwargs: object) -> object:
        return real("127.0.0.1" if host == "stripe-api.example" else host, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    monkeypatch.chdir(tmp_path)
    # Stored tokens, so each command would call the API (or the token endpoint) if it could.
    FileTokenStore(tmp_path / "tokens.json").save(
        TokenSet(
            access_token=Secret("rk_test_EXAMPLEplainhttp000000000001"),
            refresh_token=Secret("rt_EXAMPLEplainhttp00000000000000001"),
            account_id="acct_EXAMPLEplain01",
            livemode=False,
            obtained_at=time.time(),
        ),
        authorized=True,
    )
    for name, value in {
        "STRIPE_OAUTH_NB_TARGET": "stripe",
        "STRIPE_SECRET_KEY_TEST": TEST_KEY,
        "STRIPE_CLIENT_ID_TEST": "ca_abc123",
        "STRIPE_API_BASE": f"http://stripe-api.example:{port}",
        "STRIPE_OAUTH_NB_TOKEN_STORE": str(tmp_path / "tokens.json"),
    }.items():
        monkeypatch.setenv(name, value)
    try:
        assert main(argv) == 1
    finally:
        stop.set()
        thread.join(5)
        listener.close()
    err = capsys.readouterr().err
    assert "plain http" in err
    assert "STRIPE_API_BASE" in err
    assert TEST_KEY not in err
    assert seen == []


@pytest.mark.parametrize(
    ("value", "mode"),
    [("test", "test"), ("live", "live"), ("Live", None), ("tests", None), ("", None), (None, None)],
)
def test_a_mode_is_read_by_one_rule_wherever_it_enters(
    value: object, mode: str | None, tmp_path: Path
) -> None:
    from stripe_oauth_nb._modes import read_mode

    assert read_mode(value) == mode
    if isinstance(value, str) and value:
        environ = {"STRIPE_OAUTH_NB_MODE": value}
        if mode is None:
            with pytest.raises(ConfigError, match="is not known: use 'test' or 'live'"):
                load_settings(env_file=tmp_path / "missing.env", environ=environ)
        else:
            assert load_settings(env_file=tmp_path / "missing.env", environ=environ).mode == mode


@pytest.mark.parametrize(
    ("text", "dsn"),
    [("postgresql://u@localhost/db", True), ("POSTGRES://h/db", True), ("~/t.json", False)],
)
def test_a_store_location_is_read_once_and_every_door_agrees(
    text: str, dsn: bool, tmp_path: Path
) -> None:
    """STRIPE_OAUTH_NB_TOKEN_STORE, --store (with_store) and open_store's location read the
    text with the one rule (StoreLocation.read), and the value is what travels."""
    from stripe_oauth_nb._settings import StoreLocation

    location = StoreLocation.read(text, what="--store")
    assert (location.dsn is not None) == dsn
    assert (location.path is None) == dsn
    if not dsn:
        assert location.path == Path(text).expanduser()
    from_env = load_settings(
        env_file=tmp_path / "missing.env", environ={"STRIPE_OAUTH_NB_TOKEN_STORE": text}
    )
    from_flag = Settings().with_store(text)
    for settings in (from_env, from_flag):
        found = settings.token_store_dsn
        assert (found.reveal() if found else None) == (text if dsn else None)
        if not dsn:
            assert settings.token_store_path == location.path
    with pytest.raises(ConfigError, match="no user 'nobody-here-xyz'"):
        StoreLocation.read("~nobody-here-xyz/t.json", what="--store")

from __future__ import annotations

from pathlib import Path

import pytest

from stripe_oauth_nb._errors import ConfigError, ModeMismatchError, StripeOAuthNBError
from stripe_oauth_nb._settings import load_settings

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

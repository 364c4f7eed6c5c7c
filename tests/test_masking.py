from __future__ import annotations

import logging
import pickle

import pytest

from stripe_oauth_nb._masking import (
    MaskingFilter,
    Secret,
    dsn_passwords,
    looks_secret,
    mask,
    mask_dsn,
    mask_text,
)
from stripe_oauth_nb._masking import shown as echo

SECRETS = [
    "sk_test_51HEXAMPLEhijklmnopqrstuv1234",
    "sk_live_51HEXAMPLEhijklmnopqrstuv5678",
    "rk_test_EXAMPLEhijklmnopqrstuvwx9999",
    "rt_abcdefghijklmnopqrstuvwxyz0000",
    "ac_EXAMPLEhijklmnopqrstuvwxyz4321",
]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("sk_test_51HEXAMPLEhijklmnopqrstuv1234", "sk_test_…1234"),
        ("rk_live_EXAMPLEhijklmnopqrstuvwx9999", "rk_live_…9999"),
        ("ac_EXAMPLEhijklmnopqrstuvwxyz4321", "ac_…4321"),
        ("rt_abcdefghijklmnopqrstuvwxyz0000", "rt_…0000"),
        ("sk_test_short", "sk_test_…"),
        ("plainsecretvalue123456", "…3456"),
        ("", "<none>"),
        (None, "<none>"),
    ],
)
def test_mask(value: str | None, expected: str) -> None:
    assert mask(value) == expected


@pytest.mark.parametrize("secret", SECRETS)
def test_secret_never_shows_itself(secret: str) -> None:
    wrapped = Secret(secret)
    for shown in (repr(wrapped), str(wrapped), f"{wrapped}", f"{wrapped!r}", f"{wrapped:>40}"):
        assert secret not in shown
        assert secret[-4:] in shown
    assert wrapped.reveal() == secret
    assert Secret(wrapped) == wrapped
    assert pickle.loads(pickle.dumps(wrapped)) == wrapped


def test_mask_text_masks_every_secret_in_free_text() -> None:
    text = "key=" + SECRETS[0] + " token " + SECRETS[2] + ", code=" + SECRETS[4] + "&x=1"
    masked = mask_text(text)
    for secret in (SECRETS[0], SECRETS[2], SECRETS[4]):
        assert secret not in masked
    assert "sk_test_…1234" in masked
    assert "&x=1" in masked


def test_logging_filter_masks_message_and_args(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("stripe_oauth_nb.test_masking")
    logger.addFilter(MaskingFilter())
    with caplog.at_level(logging.INFO, logger=logger.name):
        logger.info("refreshing with %s", SECRETS[3])
    assert SECRETS[3] not in caplog.text
    assert "rt_…0000" in caplog.text


@pytest.mark.parametrize(
    "text",
    [
        "GET /callback?code=x&state=test.AbCdEfGhIjKlMnOpQrStUvWx9876 HTTP/1.1",
        "location: http://127.0.0.1:8765/callback?state=test.AbCdEfGhIjKlMnOpQrStUvWx9876&code=x",
        "redirect_uri=http%3A%2F%2Fh%2Fcb&state%3Dtest.AbCdEfGhIjKlMnOpQrStUvWx9876",
    ],
)
def test_mask_text_masks_oauth_state(text: str) -> None:
    masked = mask_text(text)
    assert "AbCdEfGhIjKlMnOpQrStUvWx" not in masked
    assert "…9876" in masked


def test_mask_text_leaves_prose_alone() -> None:
    assert mask_text("the state of the art, restated") == "the state of the art, restated"


@pytest.mark.parametrize(
    "value",
    [
        *SECRETS,
        "sk_test_x",
        "whsec_EXAMPLE123456",
        "  sk_live_51HEXAMPLEhijklmnopqrstuv5678  ",
        "Zm9vYmFyYmF6cXV4cXV1eDEyMzQ1Njc4",  # base64, no prefix
        "EXAMPLE0a1b2c3d4e5f6a7b8c9d0",  # an opaque token
        "Bearer rk_test_EXAMPLEhijklmnopqrstuvwx9999",
    ],
)
def test_shown_masks_anything_that_looks_like_a_secret(value: str) -> None:
    assert looks_secret(value)
    echoed = echo(value)
    secret = value.strip()
    assert secret not in echoed
    if len(secret) > 16:
        assert secret[-12:-4] not in echoed  # nothing of the hidden middle shows


@pytest.mark.parametrize(
    "value", ["staging", "prod", "sandbox ", "test-mode", "task_test", "https://api.stripe.com"]
)
def test_shown_quotes_ordinary_words(value: str) -> None:
    assert not looks_secret(value)
    assert echo(value) == repr(value.strip())


def test_shown_caps_and_flattens() -> None:
    echoed = echo("line one\nline two " + "x" * 500)
    assert "\n" not in echoed
    assert len(echoed) <= 62


@pytest.mark.parametrize(
    ("dsn", "shown"),
    [
        ("postgresql://som:EXAMPLE-pw@db:5432/x", "postgresql://som:***@db:5432/x"),
        ("postgresql://som@db/x", "postgresql://som@db/x"),
        ("host=db password=EXAMPLE-pw dbname=x", "host=db password=*** dbname=x"),
        ("host=db password='EXAMPLE pw' dbname=x", "host=db password=*** dbname=x"),
        ("postgresql://som:EXAMPLE-pw@db:99999/x", "<a DSN that cannot be parsed>"),
    ],
)
def test_one_dsn_masker(dsn: str, shown: str) -> None:
    assert mask_dsn(dsn) == shown
    assert all(password not in mask_dsn(dsn) for password in dsn_passwords(dsn))

from __future__ import annotations

from stripe_oauth_nb._tokenset import ACCESS_TOKEN_LIFETIME, REFRESH_TOKEN_LIFETIME, TokenSet

BODY = {
    "access_token": "rk_test_" + "a" * 30 + "1111",
    "livemode": False,
    "refresh_token": "rt_" + "b" * 30 + "2222",
    "scope": "stripe_apps",
    "stripe_publishable_key": "pk_test_" + "c" * 30,
    "stripe_user_id": "acct_1234567890abcdef",
    "token_type": "bearer",
}


def test_from_response_and_lifetimes() -> None:
    tokens = TokenSet.from_response(BODY, obtained_at=1000.0)
    assert tokens.key == ("acct_1234567890abcdef", False)
    assert tokens.mode == "test"
    assert tokens.access_expires_at == 1000.0 + ACCESS_TOKEN_LIFETIME
    assert tokens.refresh_expires_at == 1000.0 + REFRESH_TOKEN_LIFETIME
    assert tokens.access_expires_in(now=1000.0 + 3000) == 600


def test_json_round_trip() -> None:
    tokens = TokenSet.from_response(BODY, obtained_at=1000.0)
    assert TokenSet.from_json(tokens.to_json()) == tokens


def test_repr_and_str_are_masked() -> None:
    tokens = TokenSet.from_response(BODY, obtained_at=1000.0)
    for shown in (repr(tokens), str(tokens)):
        assert BODY["access_token"] not in shown
        assert BODY["refresh_token"] not in shown
        assert "rk_test_…1111" in shown

"""The strict callback parser and its resolution against the attempt log.

One code, one state, each used once.
"""

from __future__ import annotations

import time
import urllib.parse

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stripe_oauth_nb._errors import (
    AccessDeniedError,
    CallbackError,
    CallbackRequestError,
    CallbackStateError,
)
from stripe_oauth_nb._masking import Secret
from stripe_oauth_nb.oauth._attempts import Attempt, AttemptLog
from stripe_oauth_nb.oauth._callback import (
    CallbackQuery,
    parse_callback_query,
    parse_callback_url,
    resolve_callback,
)
from stripe_oauth_nb.oauth._callback._parse import MAX_DESCRIPTION

REDIRECT = "http://127.0.0.1:8765/callback"
STATE = "test.s7Hq0nY2m1rN0tAReal-State_Value0123456789abcdef"
CODE = "ac_EXAMPLEQ1w2E3r4T5y6U7i8O9p0"


def _log(state: str = STATE, mode: str = "test", redirect_uri: str = REDIRECT) -> AttemptLog:
    log = AttemptLog()
    log.record(
        Attempt(
            state=Secret(state),
            mode="live" if mode == "live" else "test",
            client_id="ca_demo",
            redirect_uri=redirect_uri,
            created_at=time.time(),
        )
    )
    return log


@pytest.mark.parametrize(
    "text",
    [
        f"{REDIRECT}?code={CODE}&state={STATE}",
        f"?code={CODE}&state={STATE}",
        f"code={CODE}&state={STATE}",
        f"  {REDIRECT}?state={STATE}&code={CODE}&scope=stripe_apps  \n",
        f"/callback?code={CODE}&state={STATE}",
        f"https://hub.example.org/user/ann/proxy/8765/callback?code={CODE}&state={STATE}#x",
    ],
)
def test_well_formed_callbacks_parse(text: str) -> None:
    query = parse_callback_url(text)
    assert query.code is not None
    assert query.code.reveal() == CODE
    assert query.state is not None
    assert query.state.reveal() == STATE
    assert query.error is None


@pytest.mark.parametrize(
    ("text", "error", "match"),
    [
        (f"code={CODE}&code={CODE}&state={STATE}", CallbackRequestError, "more than once"),
        (f"code={CODE}&state={STATE}&state={STATE}", CallbackRequestError, "more than once"),
        (f"error=access_denied&error=x&state={STATE}", CallbackRequestError, "more than once"),
        (f"code={CODE};state={STATE}", CallbackRequestError, "code is empty or malformed"),
        (f"code={CODE}&&state={STATE}", CallbackRequestError, "malformed"),
        (f"code={CODE}&state", CallbackRequestError, "malformed"),
        (f"code={CODE}&error=x&state={STATE}", CallbackRequestError, "both"),
        (f"state={STATE}", CallbackRequestError, "neither"),
        ("", CallbackRequestError, "neither"),
        (f"code=&state={STATE}", CallbackRequestError, "code is empty"),
        (f"code=ac_%3Cx%3E&state={STATE}", CallbackRequestError, "malformed"),
        (f"code={CODE}&state=test.%FF", CallbackRequestError, "malformed"),
        (f"code={CODE}&state=a%20b", CallbackStateError, "state is malformed"),
        (f"code={CODE}&state=" + "a" * 300, CallbackStateError, "state is malformed"),
        ("code=x&" + "&".join(f"f{i}=1" for i in range(40)), CallbackRequestError, "malformed"),
        (f"code={CODE}&pad=" + "a" * 5000, CallbackRequestError, "longer than"),
        ("http://x/" + "a" * 9000, CallbackRequestError, "longer than"),
        ("http://[::1/callback?code=x", CallbackRequestError, "cannot be read"),
        (f"code={CODE}#state={STATE}", CallbackRequestError, "'#'"),
        (f"error=<b>&state={STATE}", CallbackRequestError, "error field is malformed"),
    ],
)
def test_malformed_callbacks_are_refused(text: str, error: type[CallbackError], match: str) -> None:
    with pytest.raises(error, match=match):
        parse_callback_url(text)


def test_a_query_holding_a_url_value_is_still_a_query() -> None:
    query = parse_callback_query(f"code={CODE}&state={STATE}&next=http://x/")
    assert query.code is not None


def test_error_description_is_capped_and_cleaned() -> None:
    raw = "<script>alert(1)</script>\x00\x1b[31m" + "x" * 1000
    query = parse_callback_query(
        urllib.parse.urlencode({"error": "access_denied", "error_description": raw, "state": STATE})
    )
    assert query.error_description is not None
    assert len(query.error_description) <= MAX_DESCRIPTION
    assert "\x00" not in query.error_description
    assert "\x1b" not in query.error_description


def test_repr_masks_code_and_state() -> None:
    query = parse_callback_query(f"code={CODE}&state={STATE}")
    assert CODE not in repr(query)
    assert STATE not in repr(query)


# -- resolution ----------------------------------------------------------------------------


def test_matching_state_gives_the_code_and_uses_the_attempt_up() -> None:
    log = _log()
    code = resolve_callback(parse_callback_query(f"code={CODE}&state={STATE}"), log)
    assert code.code.reveal() == CODE
    assert code.mode == "test"
    with pytest.raises(CallbackStateError, match="already used"):
        resolve_callback(parse_callback_query(f"code={CODE}&state={STATE}"), log)


def test_the_record_not_the_state_prefix_decides_the_mode() -> None:
    log = _log(mode="live")  # a state that says "test." but was recorded as live
    code = resolve_callback(parse_callback_query(f"code={CODE}&state={STATE}"), log)
    assert code.mode == "live"


@pytest.mark.parametrize(
    "query",
    [
        f"code={CODE}",
        f"code={CODE}&state=",
        f"code={CODE}&state=test.wrong",
        f"code={CODE}&state={STATE[:-1]}",
        "error=access_denied&error_description=no",
        "error=access_denied&state=test.wrong",
    ],
)
def test_missing_or_wrong_state_is_refused_and_the_attempt_stays_open(query: str) -> None:
    log = _log()
    with pytest.raises(CallbackStateError):
        resolve_callback(parse_callback_query(query), log)
    assert log.find(STATE).completed_at is None


def test_state_for_another_redirect_uri_is_refused() -> None:
    log = _log(redirect_uri="http://127.0.0.1:9999/other")
    with pytest.raises(CallbackStateError, match="another redirect URI"):
        resolve_callback(
            parse_callback_query(f"code={CODE}&state={STATE}"), log, redirect_uri=REDIRECT
        )
    assert log.find(STATE).completed_at is None


def test_resolve_reads_the_attempt_log_once(monkeypatch: pytest.MonkeyPatch) -> None:
    log = _log()
    loads = 0
    real = log._load

    def counting() -> dict[str, dict[str, object]]:
        nonlocal loads
        loads += 1
        return real()

    monkeypatch.setattr(log, "_load", counting)
    code = resolve_callback(
        parse_callback_query(f"code={CODE}&state={STATE}"), log, redirect_uri=REDIRECT
    )
    assert code.attempt.completed_at is not None
    assert loads == 1


@pytest.mark.parametrize("redirect_uri", [REDIRECT + "/", "http://127.0.0.1:9999/other"])
def test_complete_checks_the_redirect_uri_and_leaves_the_attempt_open(redirect_uri: str) -> None:
    log = _log()
    with pytest.raises(CallbackStateError, match="another redirect URI"):
        log.complete(STATE, redirect_uri=redirect_uri)
    assert log.find(STATE).completed_at is None
    assert log.complete(STATE, redirect_uri=REDIRECT).completed_at is not None


def test_access_denied_with_matching_state_is_typed_and_escaped_later() -> None:
    log = _log()
    query = parse_callback_query(
        urllib.parse.urlencode(
            {"error": "access_denied", "error_description": "<b>no</b>" * 100, "state": STATE}
        )
    )
    with pytest.raises(AccessDeniedError) as info:
        resolve_callback(query, log)
    assert "Stripe said: <b>no</b>" in str(info.value)
    assert len(str(info.value)) < MAX_DESCRIPTION + 300
    with pytest.raises(CallbackStateError, match="already used"):
        log.find(STATE)


def test_other_stripe_errors_are_callback_errors() -> None:
    with pytest.raises(CallbackError, match="invalid_request"):
        resolve_callback(parse_callback_query(f"error=invalid_request&state={STATE}"), _log())


# -- property: only a result or the project's own error ------------------------------------

_KEYS = st.sampled_from(["code", "state", "error", "error_description", "scope", "x", "", "c%6Fde"])
_VALUES = st.one_of(
    st.text(max_size=40),
    st.sampled_from([CODE, STATE, "access_denied", "", "%", "%zz", "%FF", "a+b", "=", "&"]),
)
_QUERIES = st.lists(st.tuples(_KEYS, _VALUES), max_size=8).map(
    lambda pairs: "&".join(f"{k}={v}" for k, v in pairs)
)


@pytest.mark.slow
@settings(max_examples=600, deadline=None)
@given(st.one_of(st.text(max_size=300), _QUERIES, _QUERIES.map(lambda q: f"{REDIRECT}?{q}")))
def test_parser_returns_a_result_or_its_own_error(text: str) -> None:
    try:
        result = parse_callback_url(text)
    except CallbackError:
        return  # the project's own error: fine (anything else fails the test)
    assert isinstance(result, CallbackQuery)
    assert (result.code is None) != (result.error is None)


@settings(max_examples=300, deadline=None)
@given(_QUERIES)
def test_resolution_returns_a_code_or_its_own_error(query: str) -> None:
    log = _log()
    try:
        code = resolve_callback(parse_callback_query(query), log)
    except CallbackError:
        return
    assert code.attempt.state.reveal() == STATE

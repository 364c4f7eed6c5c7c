"""list_all and to_dataframe: page boundaries, progress, a page failing mid-way, pandas optional."""

from __future__ import annotations

import random
import subprocess
import sys

import pandas as pd
import pytest
from _api_fakes import FakeClock, FakeSource, FakeStripe, stripe_error

from stripe_oauth_nb._errors import StripeAPIError
from stripe_oauth_nb._http import httpx
from stripe_oauth_nb.api import ApiClient, RetryPolicy, TokenAuth, list_all, to_dataframe


def make(customers: int) -> tuple[FakeStripe, ApiClient]:
    source = FakeSource(FakeClock())
    server = FakeStripe(source, customers=customers)
    client = ApiClient(
        TokenAuth(source, clock=source.clock),
        base_url="https://api.example.test",
        transport=httpx.MockTransport(server),
        retry=RetryPolicy(sleep=lambda _s: None, rng=random.Random(1), max_retries=2),
    )
    return server, client


@pytest.mark.parametrize(
    ("customers", "requests"),
    [(0, 1), (1, 1), (99, 1), (100, 1), (101, 2), (200, 2), (250, 3)],
)
def test_every_object_once_in_order(customers: int, requests: int) -> None:
    server, client = make(customers)
    got = list(client.list_all("/v1/customers"))
    assert [c["id"] for c in got] == [c["id"] for c in server.customers]
    assert len(server.sent) == requests
    for request in server.requests:
        assert request.url.params["limit"] == "100"
    afters = [req.url.params.get("starting_after") for req in server.requests]
    assert afters == [None] + [server.customers[100 * i - 1]["id"] for i in range(1, requests)]


def test_exactly_100_stops_on_has_more_false() -> None:
    server, client = make(100)
    assert len(list(client.list_all("/v1/customers"))) == 100
    assert len(server.sent) == 1


def test_a_page_with_has_more_but_no_data_stops() -> None:
    server, client = make(0)
    server.script = [httpx.Response(200, json={"object": "list", "data": [], "has_more": True})]
    assert list(client.list_all("/v1/customers")) == []
    assert len(server.sent) == 1


@pytest.mark.parametrize(
    ("customers", "total", "calls"),
    [
        (0, None, [(0, None), (0, 0)]),
        (100, None, [(0, None), (100, 100)]),
        (250, None, [(0, None), (100, None), (200, None), (250, 250)]),
        (250, 250, [(0, 250), (100, 250), (200, 250), (250, 250)]),
    ],
)
def test_progress_after_every_page(
    customers: int, total: int | None, calls: list[tuple[int, int | None]]
) -> None:
    _server, client = make(customers)
    seen: list[tuple[int, int | None]] = []
    list(client.list_all("/v1/customers", progress=lambda d, t: seen.append((d, t)), total=total))
    assert seen == calls


def test_filters_are_passed_on_and_limit_wins() -> None:
    server, client = make(5)
    list(client.list_all("/v1/customers", {"email": "x@example.com", "limit": 3}))
    params = server.requests[0].url.params
    assert params["email"] == "x@example.com"
    assert params["limit"] == "100"


def test_a_page_error_mid_way_raises_after_the_delivered_objects() -> None:
    server, client = make(300)
    pages = client.list_all("/v1/customers")
    got = [next(pages) for _ in range(100)]
    # the second page fails for good (more failures than retries)
    server.script = [stripe_error(500, "api_error", "boom")] * 3
    with pytest.raises(StripeAPIError) as info:
        next(pages)
    assert info.value.status == 500
    assert len(got) == 100
    notes = " ".join(getattr(info.value, "__notes__", []))
    assert "100 objects were read" in notes
    assert server.customers[99]["id"] in notes
    # resuming from the note's starting_after gives the rest
    rest = list(client.list_all("/v1/customers", {"starting_after": server.customers[99]["id"]}))
    assert [c["id"] for c in got + rest] == [c["id"] for c in server.customers]


def test_a_page_error_that_a_retry_fixes_is_invisible() -> None:
    server, client = make(250)
    pages = client.list_all("/v1/customers")
    first = [next(pages) for _ in range(100)]
    server.script = [stripe_error(503, "api_error", "busy")]
    assert len(first) + len(list(pages)) == 250


def test_not_a_list_endpoint() -> None:
    _server, client = make(1)
    with pytest.raises(StripeAPIError, match="list endpoints"):
        list(client.list_all("/v1/account"))


@pytest.mark.parametrize("limit", [0, 101])
def test_limit_bounds(limit: int) -> None:
    _server, client = make(1)
    with pytest.raises(ValueError, match="between 1 and 100"):
        list(list_all(client, "/v1/customers", limit=limit))


def test_to_dataframe_columns_are_deterministic() -> None:
    rows = [
        {"id": "cus_1", "email": "a@example.com", "created": 1_700_000_000},
        {"id": "cus_2", "name": "B", "created": 1_700_000_100, "email": None},
    ]
    frame = to_dataframe(rows)
    assert list(frame.columns) == ["id", "email", "created", "name"]
    assert frame.shape == (2, 4)
    assert isinstance(frame["created"].dtype, pd.DatetimeTZDtype)
    assert frame["created"].iloc[0].isoformat() == "2023-11-14T22:13:20+00:00"
    chosen = to_dataframe(rows, columns=["name", "id", "missing"])
    assert list(chosen.columns) == ["name", "id", "missing"]
    assert chosen["missing"].isna().all()


def test_to_dataframe_of_nothing() -> None:
    frame = to_dataframe([], columns=["id", "email"])
    assert frame.shape == (0, 2)
    assert to_dataframe([]).shape == (0, 0)


def test_client_dataframe() -> None:
    _server, client = make(150)
    frame = client.dataframe("/v1/customers", columns=["id", "created"])
    assert frame.shape == (150, 2)
    assert frame["id"].iloc[149] == "cus_000149"


def test_without_pandas_the_error_says_how_to_install_it() -> None:
    code = (
        "import sys; sys.modules['pandas'] = None\n"
        "from stripe_oauth_nb.api import to_dataframe\n"
        "try:\n    to_dataframe([{'id': 'x'}])\n"
        "except ImportError as e:\n    print(e)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert "stripe-oauth-nb[data]" in out


def test_importing_the_api_does_not_import_pandas() -> None:
    code = "import sys, stripe_oauth_nb.api; print('pandas' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"

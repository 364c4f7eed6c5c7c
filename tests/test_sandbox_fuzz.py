"""Bad input of every kind gets Stripe's 400/404 with ``param`` set, never a 500.

Hypothesis builds query strings from the parameter names each endpoint knows (and a few it
does not), with values, brackets and nestings good and bad, and ids of this world, the other
mode's world, and nowhere.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from _sandbox_helpers import read_all_app
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stripe_oauth_nb._http import httpx
from stripe_oauth_nb.sandbox import Sandbox
from stripe_oauth_nb.sandbox._query import LIST_PARAMS
from stripe_oauth_nb.sandbox._sublists import SUBLISTS
from stripe_oauth_nb.sandbox._world import RESOURCES, api_path

START = 1_767_225_600


class World:
    """A running sandbox, a client reading everything, and ids to mix into requests."""

    def __init__(self) -> None:
        self.sb = Sandbox(customers=30, start=START, rate_limit=False).start()
        token = self.sb.mint_tokens(app=read_all_app(self.sb))["access_token"]
        self.client = httpx.Client(
            base_url=self.sb.api_base, auth=(token, ""), trust_env=False, timeout=60
        )
        self.ids: list[str] = []
        for mode in ("test", "live"):
            world = self.sb.world(None, mode)  # type: ignore[arg-type]
            for resource in RESOURCES:
                rows = world.table(resource).rows
                self.ids += [rows[0][0], rows[-1][0]] if rows else []

    def close(self) -> None:
        self.client.close()
        self.sb.stop()


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    w = World()
    yield w
    w.close()


def names_for(resource: str) -> st.SearchStrategy[str]:
    known = sorted(LIST_PARAMS[resource])
    return st.one_of(
        st.sampled_from(known),
        st.sampled_from(known).map(lambda n: n + "[]"),
        st.tuples(
            st.sampled_from(known), st.sampled_from(["gt", "gte", "lt", "lte", "0", "x", ""])
        ).map(lambda p: f"{p[0]}[{p[1]}]"),
        st.tuples(st.sampled_from(known), st.text(max_size=4)).map(lambda p: f"{p[0]}[{p[1]}][x]"),
        st.sampled_from(["colour", "limit]", "[x]", "a[b", "data.customer", "expand[", ""]),
        st.text(max_size=8),
    )


def values(world: World) -> st.SearchStrategy[str]:
    return st.one_of(
        st.integers(min_value=-(10**20), max_value=10**20).map(str),
        st.sampled_from(["", "true", "false", "all", "data.customer", "data.invoice", "month"]),
        st.sampled_from(["data.customer.invoice_settings", "data.source.customer", "data." * 6]),
        st.sampled_from(world.ids),
        st.sampled_from(["cus_nope", "ch_" + "x" * 6000, "charge.*", "1.5", "0x10", " 7"]),
        st.text(max_size=20),
    )


def assert_stripe_shaped(response: httpx.Response, query: str) -> None:
    assert response.status_code in (200, 400, 403, 404), (
        response.status_code,
        query,
        response.text,
    )
    body: Any = response.json()
    if response.status_code == 200:
        assert isinstance(body["object"], str), query
        assert body["object"] == "list" or body["id"], query
        return
    error = body["error"]
    assert error["type"] == "invalid_request_error", query
    assert error["message"], query
    if response.status_code == 400:
        assert error.get("param"), (query, error)


@settings(
    max_examples=400,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_list_parameters(world: World, data: st.DataObject) -> None:
    resource = data.draw(st.sampled_from(RESOURCES))
    pairs = data.draw(
        st.lists(st.tuples(names_for(resource), values(world)), min_size=1, max_size=4)
    )
    query = "&".join(f"{quote(k, safe='[]')}={quote(v)}" for k, v in pairs)
    assert_stripe_shaped(world.client.get(f"{api_path(resource)}?{query}"), query)


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_retrieve_ids_and_parameters(world: World, data: st.DataObject) -> None:
    resource = data.draw(st.sampled_from(RESOURCES))
    object_id = data.draw(st.one_of(st.sampled_from(world.ids), st.text(min_size=1, max_size=30)))
    pairs = data.draw(
        st.lists(
            st.tuples(st.sampled_from(["expand[]", "expand[0]", "limit", "x"]), values(world)),
            max_size=2,
        )
    )
    query = "&".join(f"{quote(k, safe='[]')}={quote(v)}" for k, v in pairs)
    path = f"{api_path(resource)}/{quote(object_id, safe='')}"
    response = world.client.get(f"{path}?{query}")
    assert_stripe_shaped(response, f"{path}?{query}")


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_sub_list_parents_and_parameters(world: World, data: st.DataObject) -> None:
    spec = data.draw(st.sampled_from(SUBLISTS))
    parent = data.draw(st.one_of(st.sampled_from(world.ids), st.text(min_size=1, max_size=30)))
    known = sorted(spec.params)
    pairs = data.draw(
        st.lists(
            st.tuples(st.one_of(st.sampled_from(known), names_for("invoices")), values(world)),
            max_size=3,
        )
    )
    if spec.query_parent is None:
        path = spec.path.replace("{parent}", quote(parent, safe=""))
    else:
        path = spec.path
        pairs.append((spec.query_parent, parent))
    query = "&".join(f"{quote(k, safe='[]')}={quote(v)}" for k, v in pairs)
    assert_stripe_shaped(world.client.get(f"{path}?{query}"), f"{path}?{query}")

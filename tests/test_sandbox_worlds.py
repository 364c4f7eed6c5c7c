"""Separate worlds: each installing account has its own data, test and live mode are apart, and
the consent page installs on any of the sample accounts."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from _sandbox_helpers import read_all_app, reader, token_request, walk

from stripe_oauth_nb._http import httpx
from stripe_oauth_nb.sandbox import Sandbox
from stripe_oauth_nb.sandbox._world import api_path

START = 1_767_225_600


@pytest.fixture(scope="module")
def sb() -> Iterator[Sandbox]:
    with Sandbox(customers=40, start=START, rate_limit=False) as sandbox:
        yield sandbox


@pytest.mark.parametrize("resource", ["customers", "charges", "invoices", "events", "products"])
def test_an_id_of_the_other_mode_is_resource_missing(sb: Sandbox, resource: str) -> None:
    with reader(sb, "test") as test, reader(sb, "live") as live:
        test_ids = {o["id"] for o in walk(test, api_path(resource))}
        live_objects = walk(live, api_path(resource))
        assert live_objects
        assert all(o["livemode"] is True for o in live_objects if "livemode" in o)
        assert test_ids.isdisjoint(o["id"] for o in live_objects)
        other = live_objects[0]["id"]
        response = test.get(f"{api_path(resource)}/{other}")
        assert response.status_code == 404
        error = response.json()["error"]
        assert (error["code"], error["param"]) == ("resource_missing", "id")
        cursor = test.get(api_path(resource), params={"starting_after": other})
        assert cursor.status_code == 400
        assert cursor.json()["error"]["param"] == "starting_after"


def test_sample_accounts_have_their_own_data(sb: Sandbox) -> None:
    assert len(sb.account_ids) >= 3
    assert sb.account_ids[0] == sb.account_id
    seen: dict[str, set[str]] = {}
    for account in sb.account_ids:
        with reader(sb, account=account) as client:
            assert client.get("/v1/account").json()["id"] == account
            customers = walk(client, "/v1/customers")
            assert customers, account
            seen[account] = {c["id"] for c in customers}
            charge = walk(client, "/v1/charges")[0]
            assert charge["customer"] in seen[account] or client.get(
                f"/v1/customers/{charge['customer']}"
            ).json().get("deleted")
    ids = list(seen.values())
    assert all(a.isdisjoint(b) for i, a in enumerate(ids) for b in ids[i + 1 :])


def test_one_app_installs_on_several_accounts_through_the_consent_page(sb: Sandbox) -> None:
    app = read_all_app(sb)
    query = urlencode({"client_id": app.client_id("test"), "state": "s1"})
    page = httpx.get(f"{sb.marketplace_base}/oauth/v2/authorize?{query}", trust_env=False)
    for account in sb.account_ids:
        assert account in page.text
    users = []
    for account in sb.account_ids:
        location = sb.approve(
            f"{sb.marketplace_base}/oauth/v2/authorize?{query}", follow=False, account=account
        )
        code = parse_qs(urlsplit(location).query)["code"][0]
        with httpx.Client(base_url=sb.api_base, trust_env=False) as c:
            _, body, _ = token_request(
                c, sb.test.secret_key, grant_type="authorization_code", code=code
            )
            users.append(body["stripe_user_id"])
            first = c.get("/v1/customers", auth=(body["access_token"], "")).json()["data"][0]
            assert first["id"] in {r.id for r in sb.world(account).customers.rows}
    assert users == sb.account_ids


def test_accounts_made_later_are_installable_and_listed(sb: Sandbox) -> None:
    with httpx.Client(base_url=sb.api_base, trust_env=False) as control:
        made = control.post("/_sandbox/accounts", json={"name": "Initech", "customers": 7}).json()
        assert made["id"].startswith("acct_")
        assert made["name"] == "Initech"
        listed = control.get("/_sandbox/accounts").json()["accounts"]
        assert made["id"] in [a["id"] for a in listed]
        assert control.post("/_sandbox/accounts", json={"name": ""}).status_code == 400
        assert control.post("/_sandbox/accounts", json={"customers": -1}).status_code == 400
    with reader(sb, account=made["id"]) as client:
        assert len(walk(client, "/v1/customers")) == 7
    assert sb.counts(made["id"])["customers"] == 7
    python_made = sb.create_account("Umbrella", customers=3)
    assert python_made in sb.account_ids


def test_info_tells_another_process_everything_it_needs(sb: Sandbox) -> None:
    info = httpx.get(f"{sb.api_base}/_sandbox/info", trust_env=False).json()
    assert info == sb.connection_info()
    assert info["api_base"] == sb.api_base
    assert info["account_ids"] == sb.account_ids
    assert info["test"] == {"secret_key": sb.test.secret_key, "client_id": sb.test.client_id}
    assert info["live"]["client_id"] == sb.live.client_id
    assert info["developer_account_id"] == sb.developer_account_id


def test_the_developer_key_reads_the_developers_own_world(sb: Sandbox) -> None:
    with httpx.Client(
        base_url=sb.api_base, auth=(sb.test.secret_key, ""), trust_env=False
    ) as client:
        assert client.get("/v1/account").json()["id"] == sb.developer_account_id
        assert client.get("/v1/customers").json()["data"] == []
        assert client.get("/v1/charges").json()["data"] == []

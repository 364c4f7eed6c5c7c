"""A tiny in-memory stand-in for Stripe's list rules, for unit tests of the sync's reader.

Newest first (``created`` desc, then the newest added first), ``limit``, ``starting_after``,
``created[gte]``/``created[lte]``, ``has_more``; served through ``httpx.MockTransport`` so the
reader's windows can be checked on any distribution of ``created`` without a server. Objects
are serialized once, and ranges found by bisection, so the fake costs little per request. The
end-to-end tests use the real sandbox.

A list named ``path?filter=value`` (``subscription_items?subscription=sub_1``) answers requests
with that filter; ``invoices/in_1/lines`` a sub-list. Entries without ``created`` (invoice lines)
keep the order they were given in. ``fail`` makes a list answer an error a number of times
(``{"invoices/in_1/lines": [429, 429]}``) before it answers again.
"""

from __future__ import annotations

import bisect
import json
import urllib.parse
from typing import Any

from stripe_oauth_nb._http import httpx


class FakeLists:
    def __init__(self, objects: dict[str, list[dict[str, Any]]]) -> None:
        self.requests: list[str] = []
        self.fail: dict[str, list[int]] = {}
        self.objects: dict[str, list[dict[str, Any]]] = {}
        self._keys: dict[str, list[int]] = {}
        self._text: dict[str, list[str]] = {}
        self._index: dict[str, dict[str, int]] = {}
        for name, rows in objects.items():
            self.set(name, rows)

    def set(self, name: str, rows: list[dict[str, Any]]) -> None:
        """Replace a resource's objects (in the order they were created: later = newer)."""
        if rows and "created" not in rows[0]:  # a sub-list's entries: in the order given
            ordered = list(rows)
        else:
            ordered = [
                o for _, o in sorted(enumerate(rows), key=lambda p: (-p[1]["created"], -p[0]))
            ]
        self.objects[name] = ordered
        self._keys[name] = [-o.get("created", 0) for o in ordered]  # ascending, for bisect
        self._text[name] = [json.dumps(o) for o in ordered]
        self._index[name] = {o["id"]: i for i, o in enumerate(ordered)}

    def handler(self, request: httpx.Request) -> httpx.Response:
        name = request.url.path.removeprefix("/v1/")
        filters = [
            (k, v)
            for k, v in request.url.params.multi_items()
            if k not in ("limit", "starting_after") and not k.startswith("created[")
        ]
        keyed = f"{name}?{urllib.parse.urlencode(sorted(filters))}"
        name = keyed if filters and keyed in self.objects else name
        self.requests.append(name)
        if self.fail.get(name):
            status = self.fail[name].pop(0)
            body = {"error": {"type": "api_error", "message": "Failed on purpose."}}
            return httpx.Response(status, json=body)
        parent, _, object_id = name.rpartition("/")
        if parent in self.objects and object_id in self._index[parent]:  # a retrieve
            text = self._text[parent][self._index[parent][object_id]]
            return httpx.Response(200, content=text.encode())
        if name not in self.objects:
            body = {"error": {"type": "invalid_request_error", "message": "Unrecognized URL"}}
            return httpx.Response(404, json=body)
        q = request.url.params
        keys = self._keys[name]
        start, stop = 0, len(keys)
        if "created[lte]" in q:
            start = bisect.bisect_left(keys, -int(q["created[lte]"]))
        if "created[gte]" in q:
            stop = bisect.bisect_right(keys, -int(q["created[gte]"]))
        if "starting_after" in q:
            start = max(start, self._index[name][q["starting_after"]] + 1)
        limit = int(q.get("limit", 10))
        end = min(start + limit, stop)
        data = ",".join(self._text[name][start:end])
        more = "true" if end < stop else "false"
        body = f'{{"object":"list","url":"/v1/{name}","has_more":{more},"data":[{data}]}}'
        return httpx.Response(200, content=body.encode())

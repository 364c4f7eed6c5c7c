"""A tiny in-memory stand-in for Stripe's list rules, for unit tests of the sync's reader.

Newest first (``created`` desc, then the newest added first), ``limit``, ``starting_after``,
``created[gte]``/``created[lte]``, ``has_more``; served through ``httpx.MockTransport`` so the
reader's windows can be checked on any distribution of ``created`` without a server. Objects
are serialized once, and ranges found by bisection, so the fake costs little per request. The
end-to-end tests use the real sandbox.
"""

from __future__ import annotations

import bisect
import json
from typing import Any

from stripe_oauth_nb._http import httpx


class FakeLists:
    def __init__(self, objects: dict[str, list[dict[str, Any]]]) -> None:
        self.requests: list[str] = []
        self.objects: dict[str, list[dict[str, Any]]] = {}
        self._keys: dict[str, list[int]] = {}
        self._text: dict[str, list[str]] = {}
        self._index: dict[str, dict[str, int]] = {}
        for name, rows in objects.items():
            self.set(name, rows)

    def set(self, name: str, rows: list[dict[str, Any]]) -> None:
        """Replace a resource's objects (in the order they were created: later = newer)."""
        ordered = [o for _, o in sorted(enumerate(rows), key=lambda p: (-p[1]["created"], -p[0]))]
        self.objects[name] = ordered
        self._keys[name] = [-o["created"] for o in ordered]  # ascending, for bisect
        self._text[name] = [json.dumps(o) for o in ordered]
        self._index[name] = {o["id"]: i for i, o in enumerate(ordered)}

    def handler(self, request: httpx.Request) -> httpx.Response:
        name = request.url.path.removeprefix("/v1/")
        self.requests.append(name)
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

"""A tiny in-memory stand-in for Stripe's list rules, for unit tests of the sync's reader.

Newest first (``created`` desc, then insertion order), ``limit``, ``starting_after``,
``created[gte]``/``created[lte]``, ``has_more``; served through ``httpx.MockTransport`` so the
reader's windows can be checked on any distribution of ``created`` without a server. The
end-to-end tests use the real sandbox.
"""

from __future__ import annotations

import json
from typing import Any

from stripe_oauth_nb._http import httpx


class FakeLists:
    def __init__(self, objects: dict[str, list[dict[str, Any]]]) -> None:
        # newest first, stable: sort by created desc keeping insertion order (later = newer)
        self.objects = {
            name: [o for _, o in sorted(enumerate(rows), key=lambda p: (-p[1]["created"], -p[0]))]
            for name, rows in objects.items()
        }
        self.requests: list[str] = []

    def handler(self, request: httpx.Request) -> httpx.Response:
        name = request.url.path.removeprefix("/v1/")
        self.requests.append(name)
        if name not in self.objects:
            body = {
                "error": {"type": "invalid_request_error", "message": "Unrecognized request URL"}
            }
            return httpx.Response(404, json=body)
        q = request.url.params
        rows = self.objects[name]
        if "created[gte]" in q:
            rows = [o for o in rows if o["created"] >= int(q["created[gte]"])]
        if "created[lte]" in q:
            rows = [o for o in rows if o["created"] <= int(q["created[lte]"])]
        if "starting_after" in q:
            ids = [o["id"] for o in rows]
            rows = rows[ids.index(q["starting_after"]) + 1 :]
        limit = int(q.get("limit", 10))
        page = rows[:limit]
        body = {"object": "list", "data": page, "has_more": len(rows) > limit, "url": f"/v1/{name}"}
        return httpx.Response(200, content=json.dumps(body).encode())

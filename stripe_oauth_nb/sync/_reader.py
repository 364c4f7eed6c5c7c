"""Read one account's resources at its rate limit: concurrent ``created`` windows, then events.

A resource is read as windows of ``created`` (newest first, 100 objects a request, the cursor
``starting_after``). It starts as one window over everything (or everything created since the
last run); the window holding the oldest, still unread, part (the *tail*) hands a chunk of about
:data:`CHUNK_PAGES` pages above its boundary to a new window while the resource has fewer than
``max_windows`` open, sized from how many objects a second of ``created`` held so far. So a
resource spreads over up to
``max_windows`` concurrent windows whatever the shape of its history, each window costing at most
one extra, partly filled page. All windows of all resources share one worker pool and one
:class:`~._limiter.RequestLimiter`, so the account runs at its limit, not at the round trip.

Incremental runs read ``/v1/events``, in windows like a resource, from the oldest cursor of the
resources that need it: an event's ``data.object`` becomes a row of its resource's table,
``*.deleted`` events become deletions, and each row carries ``_sync_seq`` (the event's time and
place in the list) so that the newest event of an object wins when the table is merged, and a
list row of the same run wins over any event. An incremental pass of a resource whose creations
are events too (``Plan.read_new`` False) reads no ``created`` window: the newest event of each
new object is its row, as for any changed object. Other resources read the objects created
since the last run in order (a few pages: splits would only add partly filled ones). The first
page of events may come with the plan (the request that found the newest event, see ``sync``):
it is not asked for again. A resource is complete when its windows and the events are;
``on_ready`` is called once per resource, from a worker thread.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .._api import ApiClient
from .._errors import PermissionDeniedError, StripeOAuthNBError
from ._resources import Resource, by_object
from ._spill import Spill

__all__ = ["CHUNK_PAGES", "EVENTS", "PAGE", "Plan", "Reader", "Window"]

#: Objects a list request asks for (Stripe's most).
PAGE = 100
#: Pages a window split off the tail is sized for.
CHUNK_PAGES = 12
#: Name of the events pass in windows and counters.
EVENTS = "events"


@dataclass
class Plan:
    """What to read of one resource: everything (``since`` None) or what is new since.

    An incremental plan with ``read_new`` False reads no ``created`` window: every object created
    since has an event, and the events bring it.
    """

    resource: Resource
    since: int | None = None
    events_since: int | None = None
    read_new: bool = True

    @property
    def full(self) -> bool:
        return self.since is None


@dataclass
class Window:
    """Objects of one resource created in ``[lo, hi]`` (``hi`` None: no upper bound)."""

    name: str
    lo: int
    hi: int | None = None
    after: str | None = None
    tail: bool = True
    first: bool = True
    top: bool = False
    #: Objects this window (and the windows it continues) read so far: the order of events
    #: within one second, which never straddles two windows.
    seen: int = 0
    #: The window's first page, already fetched (asked for from ``lo`` or earlier).
    page: Mapping[str, Any] | None = None


@dataclass
class ResourceResult:
    """What reading one resource gave: requests, newest ``created`` seen, or why it stopped."""

    requests: int = 0
    newest: int | None = None
    windows: int = 0
    permission: str | None = None
    error: str | None = None


@dataclass
class _Density:
    """Objects per second of ``created`` seen so far (to size chunks)."""

    objects: int = 0
    seconds: int = 0


ProgressHook = Callable[[str, int], None]


@dataclass
class Reader:
    """Reads the planned resources of one account into their spills."""

    client: ApiClient
    account_id: str
    livemode: bool
    plans: Mapping[str, Plan]
    spills: Mapping[str, Spill]
    events_since: int | None
    #: The first page of ``/v1/events`` (newest first, from ``events_since`` or earlier), if
    #: already fetched.
    events_page: Mapping[str, Any] | None = None
    #: The first page of full passes, already fetched (``sync``'s disk estimate reads them).
    first_pages: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    workers: int = 24
    max_windows: int = 6
    on_ready: Callable[[str], None] = lambda name: None
    on_rows: ProgressHook = lambda name, n: None
    results: dict[str, ResourceResult] = field(default_factory=dict)
    events_error: str | None = None

    def __post_init__(self) -> None:
        self._queue: queue.Queue[Window | None] = queue.Queue()
        self._lock = threading.Lock()
        self._open: dict[str, int] = {}  # windows queued or in flight, per resource
        self._density: dict[str, _Density] = {}
        self._stopped: set[str] = set()
        self._ready: set[str] = set()
        self._events_done = False
        for name in self.plans:
            self.results[name] = ResourceResult()

    # -- running -------------------------------------------------------------------------
    def run(self) -> None:
        """Read everything planned; returns when every resource is complete (or stopped)."""
        for name, plan in self.plans.items():
            self._open[name] = 0  # (a resource without windows is ready with the events)
            if plan.full or plan.read_new:
                page = self.first_pages.get(name) if plan.full else None
                self._add(Window(name, plan.since or 0, top=True, page=page))
        if self.events_since is not None:
            self._add(Window(EVENTS, self.events_since, top=True, page=self.events_page))
        else:
            self._events_done = True
        if not any(self._open.values()):  # nothing to read
            for name in self.plans:
                self._ready.add(name)
                self.spills[name].close()
                self.on_ready(name)
            return
        threads = [
            threading.Thread(target=self._work, name=f"sync-{self.account_id}-{i}", daemon=True)
            for i in range(self.workers)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def _add(self, window: Window) -> None:
        with self._lock:
            self._open[window.name] = self._open.get(window.name, 0) + 1
        self._queue.put(window)

    def _work(self) -> None:
        while True:
            window = self._queue.get()
            if window is None:
                return
            try:
                follow = self._step(window)
            except Exception as exc:  # recorded per resource: the others go on
                self._stop(window.name, exc)
                follow = []
            for nxt in follow:
                self._add(nxt)
            self._finish(window.name)

    def _finish(self, name: str) -> None:
        """One window of ``name`` is done (its follow-ups were queued first)."""
        ready: list[str] = []
        with self._lock:
            self._open[name] -= 1
            if self._open[name] == 0 and name == EVENTS:
                self._events_done = True
            for other, count in self._open.items():
                if other == EVENTS or count or other in self._ready:
                    continue
                if self._events_done:
                    self._ready.add(other)
                    ready.append(other)
            everything_done = all(count == 0 for count in self._open.values())
        for other in ready:
            self.spills[other].close()
            self.on_ready(other)
        if everything_done:
            for _ in range(self.workers):
                self._queue.put(None)

    def _stop(self, name: str, exc: Exception) -> None:
        """Record why ``name`` stopped; its other windows end at their next step."""
        with self._lock:
            self._stopped.add(name)
        if name == EVENTS:
            self.events_error = _describe(exc)
            return
        result = self.results[name]
        if isinstance(exc, PermissionDeniedError):
            result.permission = exc.permission or self.plans[name].resource.permission
        else:
            result.error = _describe(exc)

    # -- one page ------------------------------------------------------------------------
    def _step(self, window: Window) -> list[Window]:
        if window.name in self._stopped:
            return []
        if window.name == EVENTS:
            path, extra = "/v1/events", {}
        else:
            plan = self.plans[window.name]
            path, extra = plan.resource.path, dict(plan.resource.params)
        params: dict[str, str | int] = {"limit": PAGE, "created[gte]": window.lo, **extra}
        if window.hi is not None:
            params["created[lte]"] = window.hi
        if window.after is not None:
            params["starting_after"] = window.after
        page = window.page if window.page is not None else self.client.get(path, params)
        data = page.get("data")
        if not isinstance(data, list):
            raise StripeOAuthNBError(f"GET {path} did not answer with a list of objects.")
        if window.name == EVENTS:
            self._events(window, data)
        else:
            self._objects(window, data)
        if not (page.get("has_more") and data):
            return []
        last = data[-1]
        last_created = int(last["created"])
        if last_created < window.lo:  # a page fetched from earlier than the window: done
            return []
        nxt = Window(window.name, window.lo, last_created, str(last["id"]), window.tail, False)
        nxt.seen = window.seen + len(data)
        return self._split(nxt, len(data), data)

    def _objects(self, window: Window, data: list[dict[str, Any]]) -> None:
        name = window.name
        result = self.results[name]
        with self._lock:
            result.requests += 1
            if window.first:
                result.windows += 1
            if window.top and window.first and data:
                result.newest = int(data[0]["created"])
        if data:
            self.spills[name].add(data, self.account_id, self.livemode, seq=LIST_SEQ)
            self.on_rows(name, len(data))

    def _events(self, window: Window, data: list[dict[str, Any]]) -> None:
        """Route each event's object to its table (or delete it), ordered by ``_sync_seq``: the
        newest event of an object wins when the table is merged, whatever window read it."""
        upserts: dict[str, tuple[list[dict[str, Any]], list[int]]] = {}
        deletes: dict[str, tuple[list[str], list[int]]] = {}
        for index, event in enumerate(data):
            obj = (event.get("data") or {}).get("object") or {}
            resource = by_object(obj.get("object"))
            if resource is None or resource.name not in self.plans:
                continue
            plan = self.plans[resource.name]
            created = int(event.get("created", 0))
            if plan.full or created < (plan.events_since or 0):
                continue
            seq = event_seq(created, window.seen + index)
            if _is_deletion(str(event.get("type", "")), obj):
                ids, seqs = deletes.setdefault(resource.name, ([], []))
                ids.append(str(obj.get("id")))
            else:
                objects, seqs = upserts.setdefault(resource.name, ([], []))
                objects.append(obj)
            seqs.append(seq)
        for name, (objects, seqs) in upserts.items():
            self.spills[name].add(objects, self.account_id, self.livemode, seq=seqs)
        for name, (ids, seqs) in deletes.items():
            self.spills[name].delete(ids, self.account_id, self.livemode, seq=seqs)

    def _split(self, nxt: Window, count: int, data: list[dict[str, Any]]) -> list[Window]:
        """The window's continuation, and a new tail window while the resource has room."""
        newest = int(data[0]["created"])
        with self._lock:
            density = self._density.setdefault(nxt.name, _Density())
            density.objects += count
            density.seconds += max(newest - int(nxt.hi or newest), 0) + 1
            room = self._open.get(nxt.name, 0) < self.max_windows
            per_second = density.objects / density.seconds
        if nxt.name != EVENTS and self.plans[nxt.name].since is not None:
            return [nxt]  # new objects since the last run: a few pages, read in order
        if not (nxt.tail and room and nxt.hi is not None):
            return [nxt]
        span = max(int(CHUNK_PAGES * PAGE / max(per_second, 1e-9)), 1)
        boundary = nxt.hi - span
        if boundary <= nxt.lo:
            return [nxt]
        # the chunk goes on where ``nxt`` would, in the second the page ended in: it keeps the
        # count of what was read before it, so events of that second keep their order
        chunk = Window(
            nxt.name, boundary + 1, nxt.hi, nxt.after, tail=False, first=False, seen=nxt.seen
        )
        tail = Window(nxt.name, nxt.lo, boundary, None, tail=True)
        return [chunk, tail]


#: ``_sync_seq`` of a row read from a list: it wins over any event's version of the object.
LIST_SEQ = 1 << 62
_POSITION_BITS = 20


def event_seq(created: int, position: int) -> int:
    """``_sync_seq`` of an event's object: later events higher; within one second, the event
    listed first (Stripe lists the newest first) higher."""
    mask = (1 << _POSITION_BITS) - 1
    return (created << _POSITION_BITS) | (mask - min(position, mask))


def _is_deletion(event_type: str, obj: Mapping[str, Any]) -> bool:
    """Whether an event removes its object from the API's lists.

    ``customer.subscription.deleted`` only cancels a subscription (it stays listed with
    ``status=all``), so it updates the row; other ``*.deleted`` events delete it.
    """
    if obj.get("deleted") is True:
        return True
    return event_type.endswith(".deleted") and obj.get("object") != "subscription"


def _describe(exc: Exception) -> str:
    if isinstance(exc, StripeOAuthNBError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"

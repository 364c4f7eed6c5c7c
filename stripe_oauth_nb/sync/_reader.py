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

Lists embedded in an object (an invoice's ``lines``, a subscription's ``items``: Stripe embeds
the first 10 entries) become rows of the resource's child tables, each carrying the parent's id.
Only a parent whose embedded list has ``has_more`` costs requests: its sub-list endpoint is read
from the last embedded entry on, as work items of the same pool and limiter. A parent is written
with all its children or not at all: one whose sub-list failed (retries exhausted) is left out
and listed in its resource's ``incomplete``, which the sync keeps and retrieves next run
(``Plan.retry``). The embedded list's column keeps the list without its entries (``url``,
``total_count``). :attr:`Reader.child_seq` holds, per child table, the ``_sync_seq`` of the
newest version of each parent whose children were read: the loader keeps that version's rows
and replaces the parent's other children.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .._errors import PermissionDeniedError, StripeAPIError, StripeOAuthNBError
from ..api import ApiClient
from ._resources import Child, Resource, by_object
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
    #: Events of the second ``events_since`` that the last run applied already: the cursor is
    #: inclusive (more events may come in that second), so they are listed again, and skipped.
    events_seen: frozenset[str] = frozenset()
    #: Objects whose nested lists a previous run could not read whole: retrieved again.
    retry: tuple[str, ...] = ()

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
    #: Objects left out because a nested list could not be read whole (read again next run),
    #: and why the first of them failed.
    incomplete: set[str] = field(default_factory=set)
    incomplete_error: str | None = None


@dataclass
class _Parent:
    """An object whose embedded lists are being completed; written once every list is."""

    name: str
    obj: dict[str, Any]
    seq: int
    rows: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    waiting: int = 0
    failed: bool = False


@dataclass
class _SubList:
    """One page of a parent's sub-list (after ``after``)."""

    name: str
    parent: _Parent
    child: Child
    after: str | None


@dataclass
class _Retrieve:
    """One object to read again by id (a parent a previous run could not read whole)."""

    name: str
    object_id: str


@dataclass
class _PerParent:
    """One page of one parent's list of a per-parent resource (a customer's payment methods)."""

    name: str
    parent_id: str
    after: str | None = None


@dataclass
class _Snapshot:
    """The one object of a snapshot resource (``/v1/balance``)."""

    name: str


_Item = Window | _SubList | _Retrieve | _PerParent | _Snapshot


@dataclass
class _Density:
    """Objects per second of ``created`` seen so far (to size chunks)."""

    objects: int = 0
    seconds: int = 0


ProgressHook = Callable[[str, int], None]


def list_request(
    resource: Resource, lo: int = 0, hi: int | None = None
) -> tuple[str, dict[str, str | int], bool]:
    """The list request of a window of ``resource`` from ``lo`` (to ``hi``): its path, its
    parameters, and whether the list takes ``created`` ranges (else it is read newest first).
    A resource listed per parent pages the parents' list. The first page of a full pass is
    ``list_request(resource)``; the disk estimate asks for exactly that page, and hands it on."""
    path, extra = resource.path, dict(resource.params)
    if resource.per_parent is not None:  # the parents' list
        path, extra = resource.per_parent.parents, {}
    params: dict[str, str | int] = {"limit": PAGE, **extra}
    if resource.created_filter:
        params["created[gte]"] = lo
        if hi is not None:
            params["created[lte]"] = hi
    return path, params, resource.created_filter


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
    #: already fetched. Taken by :meth:`run` (the attribute is then None).
    events_page: Mapping[str, Any] | None = None
    #: The first page of full passes, already fetched (``sync``'s disk estimate reads them).
    #: :meth:`run` takes each out of the dict as its window starts: a page is held until it is
    #: read, not for the whole run (25 resources' first pages: about 9 MB of objects).
    first_pages: dict[str, Mapping[str, Any]] = field(default_factory=dict)
    workers: int = 24
    max_windows: int = 6
    on_ready: Callable[[str], None] = lambda name: None
    on_rows: ProgressHook = lambda name, n: None
    results: dict[str, ResourceResult] = field(default_factory=dict)
    events_error: str | None = None

    def __post_init__(self) -> None:
        self._queue: queue.Queue[_Item | None] = queue.Queue()
        self._lock = threading.Lock()
        self._open: dict[str, int] = {}  # windows queued or in flight, per resource
        self._density: dict[str, _Density] = {}
        self._stopped: set[str] = set()
        self._ready: set[str] = set()
        self._events_done = False
        #: Per child table: parent id -> ``_sync_seq`` of the newest version whose children
        #: were read (or that deleted the parent) in this run; per per-parent resource: the
        #: parents deleted in this run.
        self.child_seq: dict[str, dict[str, int]] = {}
        for name, plan in self.plans.items():
            self.results[name] = ResourceResult()
            for child in plan.resource.children:
                self.results[child.name] = ResourceResult()
                self.child_seq[child.name] = {}
            if plan.resource.per_parent is not None:  # parents deleted in this run
                self.child_seq[name] = {}

    # -- running -------------------------------------------------------------------------
    def run(self) -> None:
        """Read everything planned; returns when every resource is complete (or stopped)."""
        for name, plan in self.plans.items():
            self._open[name] = 0  # (a resource without windows is ready with the events)
            if plan.resource.snapshot:
                self._add(_Snapshot(name))
            elif plan.full or plan.read_new:
                page = self.first_pages.pop(name, None)
                self._add(Window(name, plan.since or 0, top=True, page=page if plan.full else None))
            for object_id in plan.retry:
                self._add(_Retrieve(name, object_id))
        if self.events_since is not None:
            page, self.events_page = self.events_page, None
            self._add(Window(EVENTS, self.events_since, top=True, page=page))
        else:
            self._events_done = True
        if not any(self._open.values()):  # nothing to read
            for name in self.plans:
                self._ready.add(name)
                self._close(name)
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

    def _add(self, item: _Item) -> None:
        with self._lock:
            self._open[item.name] = self._open.get(item.name, 0) + 1
        self._queue.put(item)

    def _close(self, name: str) -> None:
        """Finish the spill files of a resource and of its child tables."""
        self.spills[name].close()
        for child in self.plans[name].resource.children:
            self.spills[child.name].close()

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            follow: list[_Item]
            try:
                if isinstance(item, _SubList):
                    follow = list(self._sub_list(item))
                elif isinstance(item, _Retrieve):
                    follow = []
                    self._retrieve(item)
                elif isinstance(item, _PerParent):
                    follow = list(self._per_parent(item))
                elif isinstance(item, _Snapshot):
                    follow = []
                    self._snapshot(item)
                else:
                    follow = list(self._step(item))
            except Exception as exc:  # recorded per resource: the others go on
                self._stop(item.name, exc)
                follow = []
            for nxt in follow:
                self._add(nxt)
            self._finish(item.name)

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
            self._close(other)
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
            params: dict[str, str | int] = {"limit": PAGE, "created[gte]": window.lo}
            path, ranged = "/v1/events", True
            if window.hi is not None:
                params["created[lte]"] = window.hi
        else:
            resource = self.plans[window.name].resource
            path, params, ranged = list_request(resource, window.lo, window.hi)
        if window.after is not None:
            params["starting_after"] = window.after
        page = window.page if window.page is not None else self.client.get(path, params)
        window.page = None  # the window no longer holds it
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
        last_created = int(last[self._created_field(window.name)])
        if last_created < window.lo:  # a page fetched from earlier than the window: done
            return []
        nxt = Window(window.name, window.lo, last_created, str(last["id"]), window.tail, False)
        nxt.seen = window.seen + len(data)
        if not ranged:  # newest first from the top, one page after another
            return [nxt]
        return self._split(nxt, len(data), data)

    def _objects(self, window: Window, data: list[dict[str, Any]]) -> None:
        name = window.name
        result = self.results[name]
        with self._lock:
            result.requests += 1
            if window.first:
                result.windows += 1
            if window.top and window.first and data:
                result.newest = int(data[0][self._created_field(name)])
        if not data:
            return
        if self.plans[name].resource.per_parent is not None:  # each parent's list, in the pool
            for parent in data:
                self._add(_PerParent(name, str(parent["id"])))
            return
        self._emit(name, data, [LIST_SEQ] * len(data))

    def _events(self, window: Window, data: list[dict[str, Any]]) -> None:
        """Route each event's object to its table (or delete it), ordered by ``_sync_seq``: the
        newest event of an object wins when the table is merged, whatever window read it."""
        upserts: dict[str, tuple[list[dict[str, Any]], list[int]]] = {}
        deletes: dict[str, tuple[list[str], list[int]]] = {}
        for index, event in enumerate(data):
            obj = (event.get("data") or {}).get("object") or {}
            resource = by_object(obj.get("object"))
            if resource is not None and _is_deletion(str(event.get("type", "")), obj, resource):
                created = int(event.get("created", 0))
                self._parent_gone(obj, created, event_seq(created, window.seen + index))
            if resource is None or resource.name not in self.plans:
                continue
            plan = self.plans[resource.name]
            created = int(event.get("created", 0))
            if plan.full or created < (plan.events_since or 0):
                continue
            if created == plan.events_since and event.get("id") in plan.events_seen:
                continue
            seq = event_seq(created, window.seen + index)
            if _is_deletion(str(event.get("type", "")), obj, resource):
                ids, seqs = deletes.setdefault(resource.name, ([], []))
                ids.append(str(obj.get("id")))
            else:
                objects, seqs = upserts.setdefault(resource.name, ([], []))
                objects.append(obj)
            seqs.append(seq)
        for name, (objects, seqs) in upserts.items():
            self._emit(name, objects, seqs)
        for name, (ids, seqs) in deletes.items():
            self._delete(name, ids, seqs)

    def _parent_gone(self, obj: Mapping[str, Any], created: int, seq: int) -> None:
        """A deleted object whose per-parent lists go with it (a deleted customer's payment
        methods are detached without an event of their own): the loader removes their rows."""
        for name, plan in self.plans.items():
            per_parent = plan.resource.per_parent
            if per_parent is None or per_parent.parent_object != obj.get("object"):
                continue
            if plan.full or created < (plan.events_since or 0):
                continue
            parent_id = str(obj.get("id"))
            with self._lock:
                newest = self.child_seq[name]
                newest[parent_id] = max(newest.get(parent_id, seq), seq)

    # -- objects and their nested lists -------------------------------------------------
    def _emit(
        self, name: str, objects: list[dict[str, Any]], seqs: list[int], *, again: bool = True
    ) -> None:
        """Rows of objects of ``name``; a parent whose embedded list has more waits for its
        sub-list pages (queued here) and is written with them."""
        resource = self.plans[name].resource
        if not resource.children:
            self.spills[name].add(objects, self.account_id, self.livemode, seq=seqs)
            self.on_rows(name, len(objects))
            return
        complete: list[_Parent] = []
        for obj, seq in zip(objects, seqs, strict=True):
            if (
                again
                and resource.retrieve_params
                and any(c.embedded not in obj for c in resource.children)
            ):  # an event's object, its list not expanded: read it again, expanded
                self._add(_Retrieve(name, str(obj["id"])))
                continue
            parent = _Parent(name, dict(obj), seq)
            jobs: list[_SubList] = []
            for child in resource.children:
                embedded = obj.get(child.embedded)
                if not isinstance(embedded, dict) or not isinstance(embedded.get("data"), list):
                    continue  # not a list (null): no children to replace
                entries: list[dict[str, Any]] = embedded["data"]
                parent.rows[child.name] = list(entries)
                parent.obj[child.embedded] = {
                    k: v for k, v in embedded.items() if k not in ("data", "has_more")
                }
                if embedded.get("has_more"):
                    after = str(entries[-1]["id"]) if entries else None
                    jobs.append(_SubList(name, parent, child, after))
            parent.waiting = len(jobs)
            for job in jobs:
                self._add(job)
            if not jobs:
                complete.append(parent)
        if complete:
            self._write(name, complete)

    def _write(self, name: str, parents: list[_Parent]) -> None:
        """Complete parents, and their children (each row with its parent's id)."""
        self.spills[name].add(
            [p.obj for p in parents], self.account_id, self.livemode, seq=[p.seq for p in parents]
        )
        self.on_rows(name, len(parents))
        for child in self.plans[name].resource.children:
            rows: list[dict[str, Any]] = []
            seqs: list[int] = []
            with self._lock:
                newest = self.child_seq[child.name]
                for parent in parents:
                    if child.name not in parent.rows:
                        continue
                    parent_id = str(parent.obj["id"])
                    newest[parent_id] = max(newest.get(parent_id, parent.seq), parent.seq)
                    for entry in parent.rows[child.name]:
                        rows.append({**entry, child.parent: parent_id})
                        seqs.append(parent.seq)
            if rows:
                self.spills[child.name].add(rows, self.account_id, self.livemode, seq=seqs)
                self.on_rows(child.name, len(rows))

    def _delete(self, name: str, ids: list[str], seqs: list[int]) -> None:
        """Rows that delete objects of ``name``, and with them their children."""
        self.spills[name].delete(ids, self.account_id, self.livemode, seq=seqs)
        with self._lock:
            for child in self.plans[name].resource.children:
                newest = self.child_seq[child.name]
                for object_id, seq in zip(ids, seqs, strict=True):
                    newest[object_id] = max(newest.get(object_id, seq), seq)

    def _sub_list(self, job: _SubList) -> list[_Item]:
        """One page of a parent's sub-list; the parent is written when its last list ends."""
        parent = job.parent
        parent_id = str(parent.obj["id"])
        if not parent.failed and job.name not in self._stopped:
            path, filters = job.child.sub_list(parent_id)
            params: dict[str, str | int] = {"limit": PAGE, **filters}
            if job.after is not None:
                params["starting_after"] = job.after
            try:
                page = self.client.get(path, params)
                data = page.get("data")
                if not isinstance(data, list):
                    raise StripeOAuthNBError(f"GET {path} did not answer with a list of objects.")
            except Exception as exc:  # retries exhausted: the parent waits for the next run
                result = self.results[job.name]
                with self._lock:
                    parent.failed = True
                    result.incomplete.add(parent_id)
                    result.incomplete_error = result.incomplete_error or _describe(exc)
            else:
                with self._lock:
                    self.results[job.child.name].requests += 1
                parent.rows[job.child.name].extend(data)  # one job at a time per list
                if page.get("has_more") and data:
                    return [_SubList(job.name, parent, job.child, str(data[-1]["id"]))]
        with self._lock:
            parent.waiting -= 1
            write = parent.waiting == 0 and not parent.failed and job.name not in self._stopped
        if write:
            self._write(job.name, [parent])
        return []

    def _per_parent(self, item: _PerParent) -> list[_Item]:
        """One page of one parent's list (a failure stops the resource, as a list's does)."""
        if item.name in self._stopped:
            return []
        per_parent = self.plans[item.name].resource.per_parent
        assert per_parent is not None
        params: dict[str, str | int] = {"limit": PAGE}
        if item.after is not None:
            params["starting_after"] = item.after
        path = per_parent.of(item.parent_id)
        page = self.client.get(path, params)
        data = page.get("data")
        if not isinstance(data, list):
            raise StripeOAuthNBError(f"GET {path} did not answer with a list of objects.")
        with self._lock:
            self.results[item.name].requests += 1
        if data:
            self._emit(item.name, data, [LIST_SEQ] * len(data))
        if page.get("has_more") and data:
            return [_PerParent(item.name, item.parent_id, str(data[-1]["id"]))]
        return []

    def _snapshot(self, item: _Snapshot) -> None:
        """A snapshot resource's one object as a row per currency (``/v1/balance``)."""
        resource = self.plans[item.name].resource
        body = self.client.get(resource.path)
        taken = time.time()
        with self._lock:
            self.results[item.name].requests += 1
            self.results[item.name].newest = int(taken)
        rows = balance_rows(body, taken)
        if rows:
            self._emit(item.name, rows, [LIST_SEQ] * len(rows))

    def _retrieve(self, item: _Retrieve) -> None:
        """An object a previous run left out, read again by id (gone: its row is deleted)."""
        resource = self.plans[item.name].resource
        result = self.results[item.name]
        try:
            obj = self.client.get(
                f"{resource.path}/{item.object_id}", dict(resource.retrieve_params) or None
            )
        except StripeAPIError as exc:
            if exc.status != 404:
                with self._lock:
                    result.incomplete.add(item.object_id)
                    result.incomplete_error = result.incomplete_error or _describe(exc)
                return
            self._delete(item.name, [item.object_id], [LIST_SEQ])
        except Exception as exc:
            with self._lock:
                result.incomplete.add(item.object_id)
                result.incomplete_error = result.incomplete_error or _describe(exc)
        else:
            with self._lock:
                result.requests += 1
            self._emit(item.name, [obj], [LIST_SEQ], again=False)

    def _created_field(self, name: str) -> str:
        return "created" if name == EVENTS else self.plans[name].resource.created_field

    def _split(self, nxt: Window, count: int, data: list[dict[str, Any]]) -> list[Window]:
        """The window's continuation, and a new tail window while the resource has room."""
        newest = int(data[0][self._created_field(nxt.name)])
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


#: The amounts of a balance, one list of ``{amount, currency}`` per kind, that become columns.
BALANCE_KINDS = ("available", "pending", "connect_reserved", "instant_available")


def balance_rows(balance: Mapping[str, Any], taken: float) -> list[dict[str, Any]]:
    """A balance as one row per currency: the amount of each kind (``available``,
    ``pending``...; None where the balance has none), when it was read."""
    rows: dict[str, dict[str, Any]] = {}
    for kind in BALANCE_KINDS:
        for entry in balance.get(kind) or ():
            currency = str(entry.get("currency"))
            row = rows.setdefault(
                currency,
                {
                    "id": f"{currency}_{int(taken * 1000)}",
                    "object": "balance",
                    "created": int(taken),
                    "currency": currency,
                    **dict.fromkeys(BALANCE_KINDS),
                },
            )
            row[kind] = (row[kind] or 0) + int(entry.get("amount") or 0)
    return [rows[c] for c in sorted(rows)]


#: ``_sync_seq`` of a row read from a list: it wins over any event's version of the object.
LIST_SEQ = 1 << 62
_POSITION_BITS = 20


def event_seq(created: int, position: int) -> int:
    """``_sync_seq`` of an event's object: later events higher; within one second, the event
    listed first (Stripe lists the newest first) higher."""
    mask = (1 << _POSITION_BITS) - 1
    return (created << _POSITION_BITS) | (mask - min(position, mask))


def _is_deletion(event_type: str, obj: Mapping[str, Any], resource: Resource) -> bool:
    """Whether an event removes its object from the API's lists.

    ``customer.subscription.deleted`` only cancels a subscription (it stays listed with
    ``status=all``), so it updates the row; other ``*.deleted`` events delete it, and so do the
    resource's ``removed_by`` events (a payment method detached from its customer).
    """
    if obj.get("deleted") is True or event_type in resource.removed_by:
        return True
    return event_type.endswith(".deleted") and obj.get("object") != "subscription"


def _describe(exc: Exception) -> str:
    if isinstance(exc, StripeOAuthNBError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"

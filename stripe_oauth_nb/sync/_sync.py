"""``sync()``: every connected account's Stripe data into SQL tables, incremental, at the limit.

For each (account, mode) a :class:`~._reader.Reader` reads the planned resources with its own
API client and rate limiter, in a thread of its own (accounts load in parallel: each has its own
limits). Resources are loaded in this thread as they are complete: those that became ready
together (while the previous load ran, say) share one dlt load, which costs a second or so of
its own whatever its size.

A resource gets a *full pass* the first time, with ``full=True``, when the app cannot read
events, or when its event cursor is older than Stripe's 30 days of events (measured against the
newest event the account has); otherwise an *incremental* one: the changes and deletions of the
events since its last run, plus the objects created since then: from their creation events
where every creation is an event (``Resource.created_events``), else read by ``created``.

The newest event is found by the first page of ``/v1/events`` from the oldest events cursor
(``limit=1`` when no resource has one): the same page starts the events pass, so it costs no
request of its own.
"""

from __future__ import annotations

import collections
import contextlib
import queue
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from .._account_id import account_id_problem
from .._errors import (
    PermissionDeniedError,
    StripeAPIError,
    StripeOAuthNBError,
    SyncConfigError,
    needs_extra,
)
from .._masking import Secret
from .._settings import Mode, Settings
from .._tokenset import TokenSet
from ._destination import Destination, open_destination
from ._disk import DiskBudget, estimate
from ._limiter import LimitedTransport, RequestLimiter, RequestStats
from ._load import Batch, Children, Loader
from ._memory import fewer_collections, thin_allocators
from ._privacy import clean_work_folder
from ._reader import PAGE, Plan, Reader, list_request
from ._report import AccountResult, Progress, ProgressCallback, SyncReport, TableResult
from ._resources import Resource, select
from ._spill import Spill

__all__ = ["EVENT_RETENTION", "parallel_accounts", "sync"]

#: How long Stripe lists events (seconds), less an hour of margin.
EVENT_RETENTION = 30 * 86400 - 3600
#: Rows of ready resources that make a load worth starting before the account is fully read.
LOAD_ROWS = 25_000
#: Seconds ready resources of at least LOAD_WAIT_ROWS rows wait for others before they are
#: loaded while their account is still being read: a large account loads what is ready while
#: the rest is read, so little is left to load when reading ends; a small account (fewer rows
#: ready) is loaded once, when it is read whole (each dlt load has a fixed cost).
LOAD_WAIT = 2.0
LOAD_WAIT_ROWS = 2_000
#: Retries per request (429s and 5xx), each waiting longer (see RetryPolicy).
MAX_RETRIES = 8
#: Accounts read at the same time per CPU core: reading waits on the network, loading is CPU.
ACCOUNTS_PER_CPU = 4


def parallel_accounts() -> int:
    """How many accounts a sync reads at the same time by default: bounded by the CPUs this
    process may use, not by the number of accounts."""
    import os

    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return ACCOUNTS_PER_CPU * max(cpus or 1, 1)


#: The key of a resource's state that holds the ``Stripe-Version`` its rows were read in.
API_VERSION = "api_version"
#: The key of a resource's state listing objects left out (nested lists not read whole).
RETRY = "retry"


def sync(
    settings: Settings,
    tokens: Any,
    *,
    db: str | Path | None = None,
    destination: Any = None,
    dsn: str | Secret | None = None,
    dataset: str | None = None,
    resources: Sequence[str] | None = None,
    accounts: Sequence[str] | Literal["all"] | None = None,
    mode: Mode | None = None,
    full: bool = False,
    work_dir: str | Path | None = None,
    rate_limit: bool = True,
    workers: int = 24,
    max_windows: int = 6,
    parallel: int | None = None,
    progress: ProgressCallback | None = None,
) -> SyncReport:
    """Load Stripe data of the connected accounts into SQL tables; return what was done.

    ``tokens`` is a :class:`~stripe_oauth_nb.TokenManager` (tokens refresh mid-load through
    it). The destination is the DuckDB file ``db`` (default ``stripe.duckdb``), PostgreSQL
    (``destination="postgres"``, ``dsn=...``) or any dlt destination object. ``dataset`` is the
    schema of the tables: by default DuckDB's ``main`` (so ``SELECT * FROM charges`` works as
    soon as the file is open) and ``stripe`` elsewhere. ``resources``: table names (default
    all); ``accounts``: account ids, ``"all"`` for every stored token set, or None for the
    default one; ``mode``: test or live (default: the settings' mode; with ``"all"``, None
    means both); ``full``: read everything again. ``rate_limit=False`` turns the client-side
    limiter off (requests are still counted); ``parallel``: accounts read at the same time
    (default :func:`parallel_accounts`); ``progress`` receives a :class:`Progress` per step.

    One account's failure (a revoked token, an unreachable destination) is in its
    :class:`AccountResult` and stops none of the others. Into PostgreSQL, several processes
    (on several machines) may run at once: each account is loaded by the one holding its lock.
    """
    started = time.monotonic()
    _require_extra(destination)
    thin_allocators()  # before Arrow is imported and any thread of the sync allocates
    chosen = select(resources)
    token_sets = _token_sets(tokens, accounts, mode if accounts == "all" else mode or settings.mode)
    gone = _deauthorized(tokens, token_sets) if accounts == "all" else []
    token_sets = [t for t in token_sets if t not in gone]
    with (
        fewer_collections(),
        open_destination(
            db=db, destination=destination, dsn=dsn, work_dir=work_dir, dataset=dataset
        ) as dest,
    ):
        dataset = dataset or dest.default_dataset
        report = SyncReport(destination=dest.description, dataset=dataset)
        for t in gone:
            report.accounts.append(
                AccountResult(
                    t.account_id,
                    t.livemode,
                    deauthorized=True,
                    note=(
                        "skipped: deauthorized (Stripe refused its tokens: the app was "
                        "uninstalled, or the token revoked). Authorize the app again, or delete "
                        f"its rows: stripe-oauth-nb sync --forget {t.account_id} --mode {t.mode}"
                    ),
                )
            )
        run = _Run(
            settings,
            tokens,
            dest,
            Loader(dest, dataset),
            chosen,
            full,
            rate_limit,
            workers,
            max_windows,
            parallel or parallel_accounts(),
            progress or (lambda p: None),
            report,
        )
        if token_sets:
            run.go(token_sets)
    report.seconds = time.monotonic() - started
    return report


def _require_extra(destination: Any) -> None:
    """A clear error when the sql (or postgres) extra is not installed."""
    import importlib.util

    needed = ["dlt", "duckdb", "pyarrow", "orjson"]
    extra = "sql"
    if destination == "postgres":
        needed.append("psycopg2")
        extra = "sql-postgres"
    missing = [name for name in needed if importlib.util.find_spec(name) is None]
    if missing:
        raise SyncConfigError(needs_extra("Syncing into SQL tables", missing, extra=extra))


def _token_sets(
    tokens: Any, accounts: Sequence[str] | Literal["all"] | None, mode: Mode | None
) -> list[TokenSet]:
    livemode = None if mode is None else mode == "live"
    if accounts == "all":
        found = [t for t in tokens.all() if livemode is None or t.livemode == livemode]
        if not found:
            which = "" if mode is None else f" in {mode} mode"
            raise SyncConfigError(
                f"No tokens are stored{which}: install the app on an account first "
                "(`stripe-oauth-nb login`), then sync."
            )
        return found
    if isinstance(accounts, str):
        accounts = [accounts]
    if not accounts:
        return [tokens.get(None, livemode)]
    for account in accounts:
        problem = account_id_problem(account)
        if problem is not None:
            raise SyncConfigError(problem)
    return [tokens.get(account, livemode) for account in dict.fromkeys(accounts)]


def _deauthorized(tokens: Any, token_sets: list[TokenSet]) -> list[TokenSet]:
    """The sets a refresh found refused (marked by the token manager): ``--all-accounts``
    skips them and says so."""
    state = getattr(tokens, "state", None)
    if state is None:
        return []
    return [t for t in token_sets if state(t) == "deauthorized"]


@dataclass
class _Account:
    tokens: TokenSet
    reader: Reader | None = None
    stats: RequestStats = field(default_factory=RequestStats)
    result: AccountResult | None = None
    newest_event: int | None = None
    #: Ids of the events of the second ``newest_event`` (those the first page of events lists).
    newest_events: list[str] = field(default_factory=list)
    thread: threading.Thread | None = None
    started: float = field(default_factory=time.monotonic)
    locked: bool = False
    #: Bytes of the disk budget this account took (given back when it is done).
    reserved: int = 0


class _Run:
    """One sync: readers in threads, loads here."""

    def __init__(
        self,
        settings: Settings,
        tokens: Any,
        dest: Destination,
        loader: Loader,
        resources: tuple[Resource, ...],
        full: bool,
        rate_limit: bool,
        workers: int,
        max_windows: int,
        parallel: int,
        progress: ProgressCallback,
        report: SyncReport,
    ) -> None:
        self.settings = settings
        self.tokens = tokens
        self.dest = dest
        self.loader = loader
        self.resources = resources
        self.full = full
        self.rate_limit = rate_limit
        self.workers = workers
        self.max_windows = max_windows
        self.parallel = max(int(parallel), 1)
        #: Whether an account's reading has started (a refusal before that stops the run).
        self.started = False
        self.progress = progress
        self.report = report
        #: (account, resource) when a resource is read; (account, None) when the account is done
        self.ready: queue.Queue[tuple[_Account, str | None]] = queue.Queue()
        self.spill_root = dest.work_dir / "spill"
        #: When this run started (wall clock): what it loads is at least this fresh
        #: (the ``synced`` cursor, which ``conn.sql(fresh=...)`` reads).
        self.started_at = time.time()
        self.budget = DiskBudget(dest.work_dir)
        loader.budget = self.budget

    def go(self, token_sets: list[TokenSet]) -> None:
        """Read and load every account, at most ``parallel`` of them at a time (each with its
        reader thread, its spill files and its dlt pipeline, all let go when it is done; a
        destination that keeps memory per connection, DuckDB, is reopened every
        ``reopen_every`` accounts, with none in flight)."""
        # what an interrupted run left (spill files, loaded packages) goes; pending packages stay
        # until the account's state is read (``Loader.states`` aborts them)
        clean_work_folder(self.loader.pipelines_dir, self.spill_root)
        waiting = collections.deque(token_sets)
        flying: dict[int, _Account] = {}
        pending: dict[int, list[str]] = {}
        #: When the oldest of an account's pending resources became ready.
        since: dict[int, float] = {}
        #: Accounts finished since the destination was last opened (``Destination.reopen``).
        finished = 0
        every = self.dest.reopen_every
        while waiting or flying:
            if every is not None and finished >= every and not flying:
                finished = 0
                try:
                    self.dest.reopen()  # no account in flight: what the database kept goes
                except StripeOAuthNBError as exc:  # taken by another program meanwhile, say
                    for tokens in waiting:
                        result = AccountResult(tokens.account_id, tokens.livemode)
                        result.error = str(exc)
                        self.report.accounts.append(result)
                    break
            while (
                waiting
                and len(flying) < self.parallel
                and (every is None or finished + len(flying) < every)
            ):
                started = self._start(waiting.popleft())
                if started is not None:
                    flying[id(started)] = started
                    pending[id(started)] = []
            if not flying:
                break
            # Everything that became ready (during the last load, say) is taken at once, so
            # resources that finished together share one load.
            touched: dict[int, _Account] = {}
            read: set[int] = set()
            due = min(since.values(), default=None)
            timeout = None if due is None else max(due + LOAD_WAIT - time.monotonic(), 0.0)
            for account, name in self._drain(timeout):
                touched[id(account)] = account
                if name is not None:
                    pending[id(account)].append(name)
                    since.setdefault(id(account), time.monotonic())
                else:
                    read.add(id(account))
            now = time.monotonic()
            touched.update((key, flying[key]) for key, t in since.items() if now - t >= LOAD_WAIT)
            for key, account in touched.items():
                waiting_names = pending[key]
                reader = account.reader
                rows = (
                    sum(reader.spills[n].rows for n in waiting_names) if reader is not None else 0
                )
                # Each dlt load costs a second or so of its own: while the account is still
                # being read, resources wait for others until a load is worth it, or until
                # they waited LOAD_WAIT (the reading goes on meanwhile).
                waited = now - since.get(key, now) >= LOAD_WAIT
                if waited and rows < LOAD_WAIT_ROWS:
                    since[key] = now  # too few to load alone: look again after LOAD_WAIT
                    waited = False
                if waiting_names and (key in read or rows >= LOAD_ROWS or waited):
                    pending[key] = []
                    since.pop(key, None)
                    self._load(account, waiting_names)
                if key in read:
                    self._finish(account)
                    del flying[key], pending[key]
                    since.pop(key, None)
                    finished += 1
        clean_work_folder(self.loader.pipelines_dir, self.spill_root)

    def _start(self, tokens: TokenSet) -> _Account | None:
        """Lock the account, read its cursors and start its reader thread (None: not started,
        the reason in its result)."""
        acct, live = tokens.account_id, tokens.livemode
        result = AccountResult(acct, live)
        self.report.accounts.append(result)
        account = _Account(tokens, result=result)
        locks = self.dest.locks
        locked = False
        try:
            locked = locks.try_lock(acct, live)
            if not locked:
                result.elsewhere = True
                result.note = "another sync process is loading this account; it was left to it"
                return None
            cursors = self.loader.states(acct, live, fresh=locks.shared)
            if locks.shared and _loaded_since(cursors, self.resources, self.started_at):
                result.elsewhere = True
                result.note = "another sync process loaded this account during this run"
                self._finish(account, locked=True)
                return None
            if not self.full:
                self._check_version({(acct, live): cursors})
            for resource in self.resources:
                if resource.unsettled and resource.name in cursors:
                    oldest = self.loader.oldest_unsettled(
                        acct, live, resource.name, resource.unsettled
                    )
                    if oldest is not None:
                        cursors[resource.name]["unsettled"] = oldest
        except StripeOAuthNBError as exc:
            self._finish(account, locked=locked)
            if isinstance(exc, SyncConfigError) and not self.started:
                raise  # another API version: the whole run refused before any request
            result.error = str(exc)
            return None
        self.started = True
        account.locked = True
        account.thread = threading.Thread(
            target=self._read, args=(account, cursors), daemon=True, name=f"sync-{acct}"
        )
        account.thread.start()
        return account

    def _finish(self, account: _Account, *, locked: bool | None = None) -> None:
        """The account is done: its thread joined, its dlt pipeline let go, and its lock too
        unless it was loaded: then the lock is held to the end of the run (the destination's
        close), so a process of the same run that started late does not load it again."""
        if account.thread is not None:
            account.thread.join()
        acct, live = account.tokens.account_id, account.tokens.livemode
        if locked is None and self.dest.locks.shared and not self._failed(account):
            locked = False  # loaded: held until the run ends
        if account.locked if locked is None else locked:
            with contextlib.suppress(StripeOAuthNBError):  # a lost connection released it
                self.dest.locks.release(acct, live)
        self.loader.forget(acct, live)
        self.budget.release(account.reserved)
        account.reserved = 0
        account.reader = None

    def _failed(self, account: _Account) -> bool:
        acct, live = account.tokens.account_id, account.tokens.livemode
        return bool(account.result and account.result.error) or any(
            t.status == "failed" and t.account_id == acct and t.livemode == live
            for t in self.report.tables
        )

    def _check_version(self, states: dict[tuple[str, bool], dict[str, dict[str, Any]]]) -> None:
        """Refuse to add rows of another API version to tables loaded in one (shapes would
        mix): before any request, unless this run reads everything again."""
        wanted = self.settings.api_version
        for (acct, live), cursors in states.items():
            for resource in self.resources:
                found = cursors.get(resource.name, {}).get(API_VERSION)
                if found is not None and found != wanted:
                    raise SyncConfigError(
                        f"The table {resource.name} of {acct} ({_mode(live)} mode) in "
                        f"{self.dest.description} was loaded with Stripe API version {found}, "
                        f"and this run asks for {wanted} (STRIPE_API_VERSION): objects of two "
                        "versions would mix in one table. Run the sync with --full (full=True) "
                        f"to read everything again in {wanted}, or set STRIPE_API_VERSION="
                        f"{found} to go on with the tables as they are."
                    )

    def _drain(self, timeout: float | None = None) -> list[tuple[_Account, str | None]]:
        """The next message of the readers (waiting for one, at most ``timeout`` seconds),
        and every other one queued."""
        try:
            messages = [self.ready.get(timeout=timeout)]
        except queue.Empty:
            return []
        while True:
            try:
                messages.append(self.ready.get_nowait())
            except queue.Empty:
                return messages

    # -- reading (one thread per account) -------------------------------------------------
    def _client(self, account: _Account) -> Any:
        import orjson

        from .._http import httpx, transport
        from ..api import ApiClient, RetryPolicy
        from ..api._client import _env_proxy

        limiter = RequestLimiter.for_mode(account.tokens.livemode) if self.rate_limit else None
        pool = self.workers + 4
        inner = transport(  # HTTPX's transport, bounded by the call's deadline like ApiClient's
            proxy=_env_proxy(self.settings.api_base),
            limits=httpx.Limits(max_connections=pool, max_keepalive_connections=pool),
        )
        return ApiClient.from_settings(
            self.settings,
            self.tokens,
            account_id=account.tokens.account_id,
            mode="live" if account.tokens.livemode else "test",
            transport=LimitedTransport(inner, limiter, account.stats),
            retry=RetryPolicy(max_retries=MAX_RETRIES),
            loads=orjson.loads,
        )

    def _read(self, account: _Account, cursors: dict[str, dict[str, Any]]) -> None:
        result = account.result
        assert result is not None
        acct, live = account.tokens.account_id, account.tokens.livemode
        try:
            with self._client(account) as client:
                events_ok = True
                oldest = self._oldest_events_cursor(cursors)
                first: dict[str, Any] | None = None
                try:
                    first = client.get(
                        "/v1/events",
                        {"limit": 1} if oldest is None else {"limit": PAGE, "created[gte]": oldest},
                    )
                    data = first.get("data") or []
                    # No event since the oldest cursor: none is newer, and no cursor is too old.
                    account.newest_event = int(data[0]["created"]) if data else oldest
                    account.newest_events = [
                        str(e["id"]) for e in data if e["created"] == account.newest_event
                    ]
                except PermissionDeniedError as exc:
                    events_ok = False
                    result.note = (
                        f"the app cannot read events (needs '{exc.permission or 'event_read'}'), "
                        "so every resource was read in full"
                    )
                except StripeAPIError as exc:
                    if exc.status != 404:
                        raise
                    events_ok = False
                    result.note = "this API does not serve /v1/events: every resource read in full"
                plans: dict[str, Plan] = {}
                for resource in self.resources:
                    plans[resource.name] = self._plan(
                        resource, cursors.get(resource.name, {}), events_ok, account.newest_event
                    )
                incremental = [p.events_since for p in plans.values() if not p.full]
                events_since = min((s or 0) for s in incremental) if incremental else None
                # a full pass that will not fit on the disk stops here, before it writes
                full = {
                    name: (*list_request(p.resource)[:2], p.resource.created_field)
                    for name, p in plans.items()
                    if p.full and not p.resource.snapshot
                }
                first_pages: dict[str, Any] = {}
                if full:
                    found = estimate(client, full, self.workers, eager=len(full) == len(plans))
                    self.budget.need(found.bytes)
                    account.reserved = found.bytes
                    first_pages = found.pages  # the reader takes them out as it reads them
                tables = [n for name, p in plans.items() for n in (name, *p.resource.child_tables)]
                spills = {
                    name: Spill(self.spill_root / f"{acct}_{_mode(live)}" / name, self.budget)
                    for name in tables
                }
                counts: dict[str, int] = dict.fromkeys(tables, 0)

                def on_rows(name: str, n: int) -> None:
                    counts[name] += n
                    self.progress(Progress(acct, live, name, "reading", counts[name]))

                for name in tables:
                    self.progress(Progress(acct, live, name, "reading", 0))
                reader = Reader(
                    client,
                    acct,
                    live,
                    plans,
                    spills,
                    events_since,
                    # the first page asked from the oldest cursor is the first of the events pass
                    events_page=first if oldest is not None and events_since is not None else None,
                    first_pages=first_pages,
                    workers=self.workers,
                    max_windows=self.max_windows,
                    on_ready=lambda name: self.ready.put((account, name)),
                    on_rows=on_rows,
                )
                account.reader = reader
                first = None  # the reader holds the page of events until it reads it
                reader.run()
        except StripeOAuthNBError as exc:
            result.error = str(exc)
        except Exception as exc:  # a bug must not hang the loader: report it
            result.error = f"{type(exc).__name__}: {exc}"
        finally:
            result.requests = account.stats.total
            result.rate_limited = account.stats.rate_limited
            result.event_requests = account.stats.requests.get("/v1/events", 0)
            self.ready.put((account, None))

    def _oldest_events_cursor(self, cursors: dict[str, dict[str, Any]]) -> int | None:
        """The oldest events cursor of the resources that may be read incrementally (None: every
        resource gets a full pass), where the first page of events starts."""
        found = [
            int(c["events"])
            for r in self.resources
            if (c := cursors.get(r.name, {})).get("events") is not None
            and c.get("created") is not None
        ]
        return None if self.full or not found else min(found)

    def _plan(
        self, resource: Resource, cursors: dict[str, Any], events_ok: bool, newest: int | None
    ) -> Plan:
        created = cursors.get("created")
        events = cursors.get("events")
        if self.full or not events_ok or created is None or events is None or resource.reread:
            return Plan(resource)
        if newest is not None and int(events) < newest - EVENT_RETENTION:
            return Plan(resource)  # events since the cursor may be gone: read everything
        since = int(created)
        if cursors.get("unsettled") is not None:  # rows that change without an event
            since = min(since, int(cursors["unsettled"]))
        return Plan(
            resource,
            since=since,
            events_since=int(events),
            read_new=not resource.created_events,
            events_seen=frozenset(cursors.get("events_seen") or ()),
            retry=tuple(str(i) for i in cursors.get(RETRY) or ()),
        )

    # -- loading (this thread) ------------------------------------------------------------
    def _load(self, account: _Account, names: list[str]) -> None:
        """Load the resources of one account that are ready (one dlt load for all of them)."""
        reader = account.reader
        assert reader is not None
        acct, live = account.tokens.account_id, account.tokens.livemode
        started = time.monotonic()
        batches: list[Batch] = []
        tables: dict[str, TableResult] = {}
        loaded: list[str] = []
        for name in names:
            plan, read = reader.plans[name], reader.results[name]
            error = read.error or (None if plan.full else reader.events_error)
            skip = frozenset(read.incomplete)
            for child in (None, *plan.resource.children):
                table_name = name if child is None else child.name
                spill = reader.spills[table_name]
                requests = reader.results[table_name].requests
                table = TableResult(
                    table_name, acct, live, "loaded", full=plan.full, requests=requests
                )
                loaded.append(table_name)
                self.report.tables.append(table)
                if spill.error is not None:  # rows it could not write: never load part of a table
                    error = str(spill.error)
                if read.permission:
                    table.status, table.permission = "skipped", read.permission
                    self.progress(Progress(acct, live, table_name, "skipped", spill.rows))
                    continue
                if error:
                    table.status, table.error = "failed", error
                    self.progress(Progress(acct, live, table_name, "failed", spill.rows))
                    continue
                tables[table_name] = table
                if child is None:
                    table.incomplete = sorted(read.incomplete)
                    table.incomplete_error = read.incomplete_error
                    cursors = {
                        **self._cursors(account, plan, read),
                        "synced": self.started_at,
                        # when it was loaded: another process of the same run leaves it alone
                        "loaded": time.time(),
                    }
                    # a snapshot's rows of earlier runs stay: never a full pass's deletions
                    full = plan.full and not plan.resource.snapshot
                    per_parent = plan.resource.per_parent
                    gone_with = (  # rows of parents deleted in this run go with them
                        Children(per_parent.column, reader.child_seq[name])
                        if per_parent is not None
                        else None
                    )
                    batches.append(Batch(name, spill, cursors, full, keep=skip, children=gone_with))
                else:
                    children = Children(child.parent, reader.child_seq[child.name], skip)
                    batches.append(Batch(child.name, spill, {}, plan.full, children=children))
                self.progress(Progress(acct, live, table_name, "loading", spill.rows))
        try:
            if batches:
                counts = self.loader.load(acct, live, batches)
                for name, table in tables.items():
                    c = counts[name]
                    table.inserted, table.updated, table.deleted, table.rows = (
                        c.inserted,
                        c.updated,
                        c.deleted,
                        c.rows,
                    )
                    self.progress(Progress(acct, live, name, "loaded", c.rows))
        except StripeOAuthNBError as exc:
            for name, table in tables.items():
                table.status, table.error = "failed", str(exc)
                self.progress(Progress(acct, live, name, "failed", reader.spills[name].rows))
        finally:
            seconds = time.monotonic() - started
            for name in loaded:
                reader.spills[name].remove()
            for table in tables.values():
                table.seconds = seconds

    def _cursors(self, account: _Account, plan: Plan, read: Any) -> dict[str, Any]:
        """Where the next run starts: newest ``created`` read, the newest event and the ids of
        the events of its second (applied now, skipped when listed again); and the API version
        the rows were read in."""
        created = read.newest if read.newest is not None else plan.since
        created = created if created is not None else 0
        if account.newest_event is not None:
            events, seen = account.newest_event, account.newest_events
        else:
            events = plan.events_since if plan.events_since is not None else created
            seen = sorted(plan.events_seen) if events == plan.events_since else []
        cursors: dict[str, Any] = {
            "created": created,
            "events": events,
            "events_seen": seen,
            API_VERSION: self.settings.api_version,
        }
        if read.incomplete:  # read again by id next run
            cursors[RETRY] = sorted(read.incomplete)
        return cursors


def _loaded_since(
    cursors: dict[str, dict[str, Any]], resources: tuple[Resource, ...], since: float
) -> bool:
    """True when every resource was loaded at or after ``since`` (by another process: this
    one has not loaded the account yet)."""
    return all(float(cursors.get(r.name, {}).get("loaded", 0)) >= since for r in resources)


def _mode(livemode: bool) -> str:
    return "live" if livemode else "test"

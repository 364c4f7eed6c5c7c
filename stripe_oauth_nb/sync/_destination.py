"""Where the tables go: a DuckDB file (default), PostgreSQL, or any other dlt destination.

:func:`open_destination` checks the destination before anything is read from Stripe (a file
that is not DuckDB, a server that cannot be reached, a refused password: one clear
:class:`DestinationError` each, with the password masked) and takes the sync lock:

- DuckDB: a lock file beside the database (``stripe.duckdb.sync-lock``);
- PostgreSQL: no lock for the whole dataset: a session advisory lock per account and mode
  (``_locks``), so several processes on several machines share the accounts of one run;
- other destinations: a lock file in the sync's work folder (this machine only).

A second sync started while the first holds a DuckDB file's (or a work folder's) lock is refused
at once with :class:`SyncLockedError`. The work folder holds dlt's pipeline folders and the rows
waiting to be loaded; it can be deleted between runs (dlt restores its state from the database).

Everything the sync writes is owner-only whatever the umask (``_privacy``): the work folder is
made 0700 before anything is written into it, a new DuckDB file is 0600 from its first byte, and
an existing database other users can read gets a :class:`DataPermissionsWarning` (unchanged).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._errors import DestinationError, SyncConfigError, SyncLockedError
from .._masking import Secret, clean_server_text, dsn_passwords, mask_dsn
from ._locks import AccountLocks, PostgresAccountLocks
from ._privacy import (
    FOLDER_MODE,
    check_private,
    create_duckdb,
    duckdb_wal,
    private_folder,
    tighten,
)

__all__ = ["DEFAULT_DB", "Destination", "mask_dsn", "open_destination"]

#: The default database file (in the working folder).
DEFAULT_DB = "stripe.duckdb"
#: Seconds a PostgreSQL connection attempt may take.
CONNECT_TIMEOUT = 10
#: Memory DuckDB may use while a sync loads (it spills to disk beyond that), and for a load of
#: at least :data:`LARGE_LOAD_ROWS` rows. At 128 MB for every load, DuckDB's memory filled up to
#: its limit in the loads of 20,000 customers and not in those of 2,000, so the sync's peak grew
#: with the data (``bench_sync.py --memory``, lean install: 299 and 353 MB); at 64 MB the two
#: stay close (264 and 292 MB), but the load of 83,000 customers' invoices with their 600,000
#: lines runs out of memory, which it does not at 128 MB. A load that no longer fits in 64 MB
#: spills: 1.3 ms more CPU per 100 charges (``bench_page.py``, step 6).
MEMORY_LIMIT = "64MB"
LARGE_LOAD_MEMORY = "128MB"
#: Threads DuckDB runs a sync's statements on. The loads run beside the reader threads, which
#: keep the other core busy: a load of 45,000 charges took 3.4 ms of CPU per 100 rows (dlt's
#: load, DuckDB's insert and checkpoint) on one thread against 3.75 ms on two, and wrote 193 MB
#: against 236 (``bench_page.py --pages 450``, step 8). A whole unlimited sync of 20,000
#: customers gains less: 49.3, 54.8 and 51.7 s of CPU against 51.3, 54.0 and 54.6, peaks 294 to
#: 297 MB against 289 to 303, no slower (ad hoc, alternated; see the README).
THREADS = 1
#: Rows of one load (the tables loaded together) from which DuckDB gets
#: :data:`LARGE_LOAD_MEMORY`: the biggest load of 20,000 customers is about 160,000 rows.
LARGE_LOAD_ROWS = 300_000
#: DuckDB loads of at least this many rows run one table at a time, one such load at a time
#: (smaller ones, a small account's, keep dlt's parallel jobs: a hundred one-customer accounts
#: took 20% longer one table at a time).
BIG_LOAD_ROWS = 2_000
#: Bytes of DuckDB's write-ahead log past which a load ends with a checkpoint.
CHECKPOINT_WAL_BYTES = 8 << 20
#: DuckDB's own threshold for checkpointing when a commit leaves this much log (its default),
#: where dlt sets 1 GB for every connection it borrows (``_dltconfig.checkpoint_as_duckdb_does``
#: puts this back). At 1 GB every row of a load stayed in DuckDB's memory until the checkpoint
#: after it (a 45,000-charge load: 81 MB of log, 60 MB in memory and 14 MB spilled to temporary
#: files; 20,000 customers: up to 59 MB in memory and 76 MB spilled); at 16 MiB a commit writes
#: its rows to the file (1 to 16 MB held), for the same CPU (``bench_page.py``-style load of 450
#: pages: 4.7 against 5.0 ms a page).
CHECKPOINT_THRESHOLD = "16MiB"
#: Accounts a ``sync --all-accounts`` finishes between two reopenings of the DuckDB file: what
#: DuckDB keeps per connection outside its buffer manager grew by about 14 MB every 100 small
#: accounts (327 MB at 100, 453 MB at 1,000), and only closing the database gives it back.
REOPEN_EVERY = 100
#: DuckDB's file magic, after the 8-byte checksum of its header.
_DUCKDB_MAGIC = b"DUCK"


@dataclass
class Destination:
    """A checked, locked destination: what dlt loads into, and how people see it."""

    kind: str
    dlt_destination: Any
    description: str
    work_dir: Path
    #: The schema the tables go to unless one is named: DuckDB's own ``main``, else ``stripe``.
    default_dataset: str = "stripe"
    #: The DuckDB file (None for a server): made private again after every load.
    db_path: Path | None = None
    _secrets: tuple[str, ...] = ()
    #: The lock per account (PostgreSQL's advisory locks; a no-op where the destination's own
    #: lock already covers every account).
    locks: AccountLocks = field(default_factory=AccountLocks)
    #: Loads of at least this many rows run one table at a time, and one such load at a time
    #: in this process (None: every load as dlt likes, up to 20 tables at once). DuckDB: each
    #: table loading at once holds buffers of its own in the process's memory.
    big_load_rows: int | None = None
    #: Run before each load with its number of rows, under :meth:`loading`'s locks (DuckDB:
    #: its memory limit for the load).
    before_load: Callable[[int], None] | None = None
    #: Run after each load, while :meth:`loading` is still held (DuckDB: a checkpoint).
    after_load: Callable[[], None] | None = None
    #: Accounts to finish between two calls of :meth:`reopen` (None: never needed).
    reopen_every: int | None = None
    #: A table's first load for an account may append its rows straight to the table, with no
    #: staging copy and no merge (``_load``). Only where a load that committed cannot be run
    #: again by dlt: DuckDB, in this process. A server's reply lost after its commit would make
    #: dlt retry the job, which for an append is the rows twice.
    appends_first_loads: bool = False
    _reopen: Callable[[], Any] | None = None
    _release: list[Any] = field(default_factory=list)
    _big_load: threading.Lock = field(default_factory=threading.Lock)

    def reopen(self) -> None:
        """Close the database and open it again, for the pipelines made from now on (DuckDB:
        what the connection kept goes). Only while no account is being read or loaded."""
        if self._reopen is not None:
            self.dlt_destination = self._reopen()

    @contextlib.contextmanager
    def loading(self, rows: int) -> Iterator[int | None]:
        """Held while a load of ``rows`` rows writes the tables: the account locks' load lock
        (one process at a time, for a shared destination), and this process's lock of big loads
        for one that is big (:attr:`big_load_rows`). Gives the dlt load workers to use (None:
        dlt's default); :attr:`before_load` runs once the locks are held, :attr:`after_load`
        before they are let go."""
        big = self.big_load_rows is not None and rows >= self.big_load_rows
        with self.locks.loading(), self._big_load if big else contextlib.nullcontext():
            if self.before_load is not None:
                self.before_load(rows)
            yield 1 if big else None
            if self.after_load is not None:
                self.after_load()

    def scrub(self, text: str) -> str:
        """``text`` with every secret of the destination masked."""
        for secret in self._secrets:
            if secret:
                text = text.replace(secret, "***")
        return clean_server_text(text, 800)

    def close(self) -> None:
        """Release the sync lock (and the account locks)."""
        while self._release:
            with contextlib.suppress(Exception):
                self._release.pop()()

    def __enter__(self) -> Destination:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_destination(
    *,
    db: str | Path | None = None,
    destination: Any = None,
    dsn: str | Secret | None = None,
    work_dir: str | Path | None = None,
    dataset: str | None = None,
) -> Destination:
    """Check the destination and take the sync lock (release it with ``close``)."""
    dsn_text = dsn.reveal() if isinstance(dsn, Secret) else dsn
    if destination is None or destination == "duckdb":
        if dsn_text:
            raise SyncConfigError(
                "A DSN was given without --destination postgres: use --destination postgres "
                "--dsn DSN to load into PostgreSQL, or --db PATH for a DuckDB file."
            )
        return _duckdb(Path(db or DEFAULT_DB).expanduser(), work_dir)
    if destination == "postgres":
        if db is not None:
            raise SyncConfigError(
                "--db names a DuckDB file; for PostgreSQL give --dsn postgresql://USER@HOST/DB."
            )
        if not dsn_text:
            raise SyncConfigError(
                "PostgreSQL needs a DSN: --dsn postgresql://USER:PASSWORD@HOST:5432/DATABASE "
                "(or set it in the environment and pass it in)."
            )
        return _postgres(dsn_text, work_dir, dataset or "stripe")
    if isinstance(destination, str):
        raise SyncConfigError(
            f"Unknown destination {destination!r}: use 'duckdb' or 'postgres' here, or pass any "
            "dlt destination object (dlt.destinations.*) from Python."
        )
    return _other(destination, work_dir, dataset or "stripe")


def _lock_file(path: Path, what: str) -> Any:
    from filelock import FileLock, Timeout

    lock = FileLock(str(path), timeout=0, mode=0o600)
    try:
        lock.acquire()
    except Timeout:
        raise SyncLockedError(
            f"Another sync is loading into {what} right now (it holds {path}). Wait for it to "
            "finish, then run this one again; two syncs never write the same tables at once."
        ) from None
    return lock


def _duckdb(path: Path, work_dir: str | Path | None) -> Destination:
    if path.is_dir():
        raise DestinationError(f"{path} is a folder, not a DuckDB file: give a file path.")
    if not path.parent.exists():
        raise DestinationError(
            f"The folder {path.parent} does not exist: create it, or give another --db path."
        )
    if path.exists() and path.stat().st_size > 0:
        with path.open("rb") as handle:
            header = handle.read(12)
        if header[8:12] != _DUCKDB_MAGIC:
            raise DestinationError(
                f"{path} is not a DuckDB database (its first bytes say otherwise). Nothing was "
                "changed; give another --db path (a new file is created), or move this file."
            )
    work = _work_folder(work_dir, path.with_name(path.name + ".sync"))
    lock = _lock_file(path.with_name(path.name + ".sync-lock"), str(path))
    try:
        if not path.exists():
            create_duckdb(path, work)
        else:
            check_private(path, "The database")
        connection = _Connection(path)
    except BaseException:
        lock.release()
        raise
    # One connection at a time for the whole sync: dlt clones it for its threads instead of
    # opening the file again for every step.
    return Destination(
        kind="duckdb",
        dlt_destination=connection.dlt_destination(),
        description=f"duckdb:{path}",
        work_dir=work,
        default_dataset="main",
        db_path=path,
        big_load_rows=BIG_LOAD_ROWS,
        before_load=connection.fit_memory,
        after_load=connection.after_load,
        reopen_every=REOPEN_EVERY,
        appends_first_loads=True,
        _reopen=connection.reopen,
        _release=[lock.release, connection.close],
    )


class _Connection:
    """The sync's DuckDB connection, which can be closed and opened again between accounts."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.current = _open_duckdb(path)
        self.memory = MEMORY_LIMIT

    def fit_memory(self, rows: int) -> None:
        """DuckDB's memory limit for a load of ``rows`` rows (:data:`LARGE_LOAD_ROWS`). A limit
        DuckDB cannot lower now (memory it still holds) stays until the next load."""
        import duckdb

        wanted = LARGE_LOAD_MEMORY if rows >= LARGE_LOAD_ROWS else MEMORY_LIMIT
        if wanted == self.memory:
            return
        cursor = self.current.cursor()
        try:
            cursor.execute(f"SET memory_limit = '{wanted}'")
            self.memory = wanted
        except duckdb.Error:
            pass
        finally:
            cursor.close()

    def after_load(self) -> None:
        """A checkpoint if the log has grown; the memory limit of small loads again."""
        _checkpoint(self.current, self.path)
        self.fit_memory(0)

    def dlt_destination(self) -> Any:
        import dlt

        from ._dltconfig import checkpoint_as_duckdb_does

        checkpoint_as_duckdb_does(CHECKPOINT_THRESHOLD)  # dlt's client would set 1 GB
        return dlt.destinations.duckdb(credentials=self.current)

    def reopen(self) -> Any:
        """Close the connection (and with it the database, which no other holds), open it
        again; the dlt destination over the new one."""
        self.current.close()
        self.current = _open_duckdb(self.path)
        self.memory = MEMORY_LIMIT
        return self.dlt_destination()

    def close(self) -> None:
        self.current.close()


def _checkpoint(connection: Any, path: Path) -> None:
    """Write what the loads changed into the database file once its write-ahead log holds
    :data:`CHECKPOINT_WAL_BYTES`, so DuckDB's memory does not keep it.

    Without it, a ``sync --all-accounts`` of small installs grew DuckDB's memory by about 0.3 MB
    an account (``duckdb_memory()``: rows not yet checkpointed, and their long strings), up to
    its limit: DuckDB's own checkpoint did not keep up while the sync's threads kept
    transactions open. A checkpoint that cannot run now (another transaction in the way) is left
    to a later load, or to closing the file: it saves memory; the log already keeps the data safe.
    """
    import duckdb

    try:
        if duckdb_wal(path).stat().st_size < CHECKPOINT_WAL_BYTES:
            return
    except FileNotFoundError:
        return
    cursor = connection.cursor()
    try:
        cursor.execute("CHECKPOINT")
    except duckdb.Error:
        pass
    finally:
        cursor.close()


def _open_duckdb(path: Path) -> Any:
    import duckdb

    try:
        # DuckDB caches pages up to most of the memory by default: a sync keeps it small
        return duckdb.connect(str(path), config={"memory_limit": MEMORY_LIMIT, "threads": THREADS})
    except duckdb.Error as exc:
        text = str(exc)
        if "different configuration" in text:
            raise DestinationError(
                f"{path} is open in this Python process (a duckdb.connect() to it that is still "
                "open, in a notebook cell say): close that connection (con.close()), then sync "
                "again."
            ) from None
        if "lock" in text.lower():
            raise DestinationError(
                f"{path} is open in another program (a notebook or SQL tool holding a "
                "connection to it): close that connection, then sync again."
            ) from None
        raise DestinationError(
            f"{path} cannot be opened as a DuckDB database ({clean_server_text(text, 300)}). "
            "Nothing was changed; give another --db path."
        ) from None


def _postgres(dsn: str, work_dir: str | Path | None, dataset: str) -> Destination:
    import dlt
    import psycopg2

    shown = mask_dsn(dsn)
    parts = urllib.parse.urlsplit(dsn)
    secrets = dsn_passwords(dsn)
    try:
        connection = psycopg2.connect(dsn, connect_timeout=CONNECT_TIMEOUT)
    except psycopg2.Error as exc:
        reason = str(exc).strip()
        for secret in secrets:
            reason = reason.replace(secret, "***")
        if "password authentication failed" in reason:
            hint = "the password (or user) was refused: check them and try again"
        elif "does not exist" in reason:
            hint = "the database or user does not exist: create it, or fix the DSN"
        else:
            hint = "check that the server is running and reachable, and the DSN's host and port"
        raise DestinationError(
            f"Could not connect to PostgreSQL at {shown}: {clean_server_text(reason, 300)}. "
            f"Nothing was loaded; {hint}."
        ) from None
    connection.autocommit = True
    digest = hashlib.sha256(f"{parts.hostname}:{parts.port}{parts.path}:{dataset}".encode())
    try:
        work = _work_folder(work_dir, _cache_dir() / digest.hexdigest()[:16])
    except BaseException:
        connection.close()
        raise

    def connect() -> Any:
        fresh = psycopg2.connect(dsn, connect_timeout=CONNECT_TIMEOUT)
        fresh.autocommit = True
        return fresh

    connection.close()  # it was the check; the account locks have their own
    locks = PostgresAccountLocks(connect, dataset, shown)
    locks.open()  # processes of another version of the tables: refused before anything is read
    return Destination(
        kind="postgres",
        dlt_destination=dlt.destinations.postgres(credentials=dsn),
        description=shown,
        work_dir=work,
        _secrets=secrets,
        locks=locks,
        _release=[locks.close],
    )


def _other(destination: Any, work_dir: str | Path | None, dataset: str) -> Destination:
    name = str(getattr(destination, "destination_name", None) or type(destination).__name__)
    default = _cache_dir() / hashlib.sha256(f"{name}:{dataset}".encode()).hexdigest()[:16]
    work = _work_folder(work_dir, default)
    lock = _lock_file(work / "sync-lock", f"the {name} destination")
    return Destination(
        kind=name,
        dlt_destination=destination,
        description=name,
        work_dir=work,
        _release=[lock.release],
    )


def _work_folder(given: str | Path | None, default: Path) -> Path:
    """The sync's work folder, private: made 0700 when new; the default one (the sync's own) is
    made 0700 again with everything in it; a named one that others can read is warned about and
    left as it is (the folders the sync makes inside it are 0700 all the same)."""
    work = Path(given).expanduser() if given is not None else default
    if work.exists() and not work.is_dir():
        raise DestinationError(f"The work folder {work} is a file: give a folder path.")
    try:
        if not work.exists():
            private_folder(work)
        elif given is None:
            os.chmod(work, FOLDER_MODE)
            tighten(work)
        else:
            check_private(work, "The sync's work folder")
    except PermissionError as exc:
        raise DestinationError(
            f"The work folder {work} cannot be made ({exc.strerror}): give --work-dir a folder "
            "you may write to."
        ) from None
    return work


def _cache_dir() -> Path:
    from platformdirs import user_cache_path

    return user_cache_path("stripe-oauth-nb", appauthor=False) / "sync"

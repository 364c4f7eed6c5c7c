"""dlt's process-wide set-up for the sync: no telemetry, lookups paid once, DuckDB's checkpoints.

What every dlt load of every account went through, set once per process here
(:func:`prepare`, called before the sync's first dlt pipeline):

- **Telemetry off, for real.** dlt starts its anonymous telemetry the first time its
  configuration is read, with whatever it finds then; setting ``runtime.dlthub_telemetry`` to
  false through ``dlt.config`` afterwards did not stop it (events of every extract, normalize
  and load went to dlt's tracker). The documented switch is the environment variable
  ``RUNTIME__DLTHUB_TELEMETRY``, read when dlt starts its runtime: it is set before that, and a
  tracker already started (dlt used by other code of the same process first) is stopped.
- **Configuration resolution, cheaper.** dlt resolves its configuration objects (the
  destination's, the file writers', the loader's) again for every table of every load: a
  thousand small accounts made hundreds of thousands of lookups, and each lookup asked of each
  type hint whether it holds a secret (``is_secret_hint``, typing introspection, a fifth of a
  load's CPU in a profile). The answer depends on the hint alone, so it is remembered per hint.
  Values are still looked up every time (environment, ``config.toml``), so a setting changed
  mid-process is seen as before.
- **DuckDB checkpoints as it commits.** dlt sets DuckDB's ``checkpoint_threshold`` to 1 GB on
  every connection it borrows (the client's settings win over the credentials', so there is no
  setting for it): the rows of each load then stayed in DuckDB's memory, and spilled to its
  temporary files, until the sync's checkpoint after the load. The client is made to set
  DuckDB's own threshold instead (:data:`~._destination.CHECKPOINT_THRESHOLD`), by
  :func:`checkpoint_as_duckdb_does`, which the DuckDB destination calls as it hands dlt its
  connection (not :func:`prepare`: a sync into PostgreSQL does not import DuckDB for it).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any

__all__ = ["TELEMETRY_ENV", "checkpoint_as_duckdb_does", "prepare"]

#: dlt's documented switch for its anonymous telemetry.
TELEMETRY_ENV = "RUNTIME__DLTHUB_TELEMETRY"

_done = False
_guard = threading.Lock()
#: DuckDB's checkpoint threshold for dlt's client to set (:func:`checkpoint_as_duckdb_does`).
_checkpoint_threshold: str | None = None


def prepare() -> None:
    """Telemetry off and hint answers remembered (idempotent; call before using dlt)."""
    global _done
    with _guard:
        if _done:
            return
        os.environ[TELEMETRY_ENV] = "false"  # nothing about a sync leaves the machine
        _stop_started_tracker()
        _remember_secret_hints()
        _done = True


def _stop_started_tracker() -> None:
    """Stop dlt's tracker when other code of this process started it before the sync."""
    from dlt.common.runtime import anon_tracker

    if getattr(anon_tracker, "_ANON_TRACKER_ENDPOINT", None) is not None:
        anon_tracker.disable_anon_tracker()


def _remember_secret_hints() -> None:
    """Replace dlt's ``is_secret_hint`` where configuration lookups call it by one that
    remembers its answer per hint (hints that cannot be dict keys are asked every time)."""
    from dlt.common.configuration import resolve
    from dlt.common.configuration.providers import environ
    from dlt.common.configuration.specs import base_configuration

    original: Callable[[Any], bool] = base_configuration.is_secret_hint
    known: dict[Any, bool] = {}

    def is_secret_hint(hint: Any) -> bool:
        try:
            return known[hint]
        except KeyError:
            answer = known[hint] = original(hint)
            return answer
        except TypeError:  # unhashable (an Annotated hint with a list in it, say)
            return original(hint)

    for module in (resolve, environ):
        if getattr(module, "is_secret_hint", None) is original:  # another dlt: leave it be
            module.is_secret_hint = is_secret_hint  # type: ignore[attr-defined]


def checkpoint_as_duckdb_does(threshold: str) -> None:
    """Make dlt's DuckDB client set ``threshold`` (DuckDB's ``checkpoint_threshold``, the
    destination's :data:`~._destination.CHECKPOINT_THRESHOLD`) where it sets its own 1 GB. The
    client is wrapped once per process; a later call changes the threshold the wrapper sets. A
    dlt without that setting, or without DuckDB, is left as it is."""
    global _checkpoint_threshold
    try:
        from dlt.destinations.impl.duckdb.sql_client import DuckDbSqlClient
    except ImportError:  # pragma: no cover - dlt without its DuckDB destination
        return

    with _guard:
        _checkpoint_threshold = threshold
        original: Callable[..., None] = DuckDbSqlClient.__init__
        if getattr(original, "_checkpoints_as_duckdb", False):
            return

        def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
            original(self, *args, **kwargs)
            settings = getattr(self, "_global_config", None)
            wanted = _checkpoint_threshold
            if wanted and isinstance(settings, dict) and "checkpoint_threshold" in settings:
                settings["checkpoint_threshold"] = wanted

        __init__._checkpoints_as_duckdb = True  # type: ignore[attr-defined]
        DuckDbSqlClient.__init__ = __init__  # type: ignore[method-assign]

"""Stripe data as SQL tables: every connected account, incremental, at Stripe's rate limit.

    from stripe_oauth_nb.sync import sync
    report = sync(settings, token_manager)          # -> stripe.duckdb, dataset "stripe"
    print(report.summary())

    from stripe_oauth_nb.sync import query
    frame = query(settings, token_manager, "SELECT count(*) FROM charges")  # synced if stale

One table per resource (:data:`RESOURCES`, and the child tables of their embedded lists), keyed
by ``(id, account_id, livemode)``, loaded
with dlt (DuckDB by default; PostgreSQL or any dlt destination by configuration). Needs the
``[sql]`` extra; dlt, DuckDB and pyarrow are imported only when a sync runs. :data:`QUERIES`
holds the analyses (MRR, revenue by product, discounts) as DuckDB SQL; ``run_query`` runs one.
"""

from __future__ import annotations

from ._destination import DEFAULT_DB, mask_dsn
from ._forget import ForgetReport, forget
from ._limiter import ENDPOINT_RATE, LIVE_RATE, TEST_RATE, RequestLimiter
from ._privacy import DataPermissionsWarning
from ._queries import QUERIES
from ._queries import run as run_query
from ._report import AccountResult, Progress, ProgressCallback, SyncReport, TableResult
from ._resources import RESOURCES, Resource
from ._sql import DEFAULT_FRESH, query
from ._sync import sync

__all__ = [
    "DEFAULT_DB",
    "DEFAULT_FRESH",
    "ENDPOINT_RATE",
    "LIVE_RATE",
    "QUERIES",
    "RESOURCES",
    "TEST_RATE",
    "AccountResult",
    "DataPermissionsWarning",
    "ForgetReport",
    "Progress",
    "ProgressCallback",
    "RequestLimiter",
    "Resource",
    "SyncReport",
    "TableResult",
    "forget",
    "mask_dsn",
    "query",
    "run_query",
    "sync",
]


def __dir__() -> list[str]:
    return sorted(__all__)

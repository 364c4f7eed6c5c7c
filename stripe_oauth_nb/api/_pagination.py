"""Every object of a Stripe list endpoint, and a DataFrame of them.

Stripe pages lists with ``limit`` (at most 100) and ``starting_after=<last id>``, and says
``has_more`` while there is more. :func:`list_all` walks the pages lazily (one request per 100
objects, each with the client's retries and token refresh), reporting progress through a plain
callback, so the core knows nothing of widgets or terminals. If a page fails for good, the error
notes how to resume (``starting_after`` = the last object already delivered).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from .._errors import (
    StripeAPIError,
    StripeOAuthNBError,
    needs_extra,
)

if TYPE_CHECKING:  # pragma: no cover
    import pandas

__all__ = ["PAGE_LIMIT", "PageProgress", "list_all", "to_dataframe"]

#: Stripe's largest page.
PAGE_LIMIT = 100

#: ``progress(done, total)`` after every page: objects so far, and the expected total when known
#: (the ``total`` hint given to :func:`list_all`, or ``done`` itself once the last page is in).
PageProgress = Callable[[int, int | None], None]


class _Getter(Protocol):
    def get(
        self, path: str, params: Mapping[str, str | int | float | bool | None] | None = None
    ) -> dict[str, Any]: ...


def list_all(
    client: _Getter,
    path: str,
    params: Mapping[str, str | int | float | bool | None] | None = None,
    *,
    progress: PageProgress | None = None,
    total: int | None = None,
    limit: int = PAGE_LIMIT,
) -> Iterator[dict[str, Any]]:
    """Yield every object of the list at ``path`` (e.g. ``"/v1/customers"``), in Stripe's order.

    ``params`` are extra filters (``created[gte]``, ``email``, a ``starting_after`` to resume).
    """
    if not 1 <= limit <= PAGE_LIMIT:
        raise ValueError(
            f"limit must be between 1 and {PAGE_LIMIT}, not {limit}: Stripe pages hold at most "
            f"{PAGE_LIMIT} objects. Leave limit out (list_all reads every page anyway)."
        )
    query: dict[str, str | int | float | bool | None] = dict(params or {})
    query["limit"] = limit
    done = 0
    last_id: str | None = None
    if progress is not None:
        progress(0, total)
    while True:
        try:
            page = client.get(path, query)
        except StripeOAuthNBError as exc:
            if done:
                exc.add_note(
                    f"{done} objects were read before this page failed; to resume, pass "
                    f"starting_after={last_id!r} in params."
                )
            raise
        data = page.get("data")
        if page.get("object") != "list" or not isinstance(data, list):
            raise StripeAPIError(
                f"GET {path} did not answer with a list: use list_all only on list endpoints "
                "(such as /v1/customers)."
            )
        yield from data
        done += len(data)
        more = bool(page.get("has_more")) and bool(data)
        if data:
            last_id = str(data[-1]["id"])
        if progress is not None:
            progress(done, total if more else done)
        if not more:
            return
        query["starting_after"] = last_id


def to_dataframe(
    rows: Iterable[Mapping[str, Any]], *, columns: list[str] | None = None
) -> pandas.DataFrame:
    """A pandas DataFrame of Stripe objects, one row each.

    Columns are ``columns`` when given (missing fields become empty), else every top-level field
    in the order first seen, so the same objects always give the same table. ``created`` (and
    other Unix-time fields Stripe names ``created``/``*_at``) become UTC timestamps.
    """
    try:
        import pandas as pd
    except ImportError:
        raise ImportError(
            needs_extra(
                "to_dataframe",
                "pandas",
                otherwise=" (or pip install pandas), or use list_all to get plain dictionaries",
            )
        ) from None
    records = list(rows)
    if columns is None:
        seen: dict[str, None] = {}
        for record in records:
            for name in record:
                seen.setdefault(name, None)
        columns = list(seen)
    frame = pd.DataFrame.from_records(records, columns=columns)
    for name in columns:
        timestamp = name == "created" or name.endswith("_at")
        if timestamp and pd.api.types.is_numeric_dtype(frame[name]):
            frame[name] = pd.to_datetime(frame[name], unit="s", utc=True)
    return frame

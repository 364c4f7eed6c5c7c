"""The analyses the SQL tables answer, as DuckDB SQL: one place for notebooks, scripts and tests.

Each query reads the sync's tables of one account and mode (``$account_id``, ``$livemode``) and
gives amounts in the currency's smallest unit, as Stripe does (cents; yen are yen):

- :data:`MRR`: monthly recurring revenue per currency, from subscription items: quantity times
  the price's unit amount, normalised to a month (a yearly price counts 1/12, a weekly one
  52/12, a daily one 365/12, divided by the interval count), over subscriptions that are
  ``active`` or ``past_due`` (trials bring no revenue yet). ``gross_mrr`` before discounts;
  ``mrr`` with each subscription's discount applied: the share of its latest invoice that
  discounts took off (a coupon applied ``once`` or whose months have run out no longer counts);
- :data:`REVENUE_BY_PRODUCT`: revenue of paid invoices per product and currency, from their
  lines (``amount`` less the line's discounts, before tax);
- :data:`DISCOUNTS`: what discounts took off paid invoices, per currency: lines' amounts,
  discounts, what remained, and how many invoices had one.

``run(connection, name, account_id, livemode)`` runs one on a DuckDB connection and returns a
pandas DataFrame. The queries are plain text: ``print(QUERIES["mrr"])`` to read or adapt one.
"""

from __future__ import annotations

from typing import Any

__all__ = ["DISCOUNTS", "MRR", "QUERIES", "REVENUE_BY_PRODUCT", "run"]

#: An invoice line's discount: the sum of its ``discount_amounts`` (a line may have several).
_LINE_DISCOUNT = (
    "CAST(coalesce(list_sum(CAST(l.discount_amounts -> '$[*].amount' AS BIGINT[])), 0) AS BIGINT)"
)

#: Invoice lines of paid invoices, with their discount and product.
_PAID_LINES = f"""
paid_lines AS (
    SELECT
        l.invoice,
        l.currency,
        l.pricing -> 'price_details' ->> 'product' AS product,
        l.amount,
        {_LINE_DISCOUNT} AS discount
    FROM invoice_lines AS l
    JOIN invoices AS v
        ON v.id = l.invoice AND v.account_id = l.account_id AND v.livemode = l.livemode
    WHERE l.account_id = $account_id AND l.livemode = $livemode AND v.status = 'paid'
)"""  # noqa: S608 - the f-strings here put in only this module's constant SQL

MRR = f"""
WITH items AS (
    SELECT
        i.subscription,
        i.price ->> 'currency' AS currency,
        i.quantity * CAST(i.price ->> 'unit_amount' AS DOUBLE)
            * CASE i.price -> 'recurring' ->> 'interval'
                WHEN 'month' THEN 1.0
                WHEN 'year' THEN 1.0 / 12
                WHEN 'week' THEN 52.0 / 12
                WHEN 'day' THEN 365.0 / 12
            END
            / coalesce(CAST(i.price -> 'recurring' ->> 'interval_count' AS DOUBLE), 1.0)
            AS monthly
    FROM subscription_items AS i
    WHERE i.account_id = $account_id AND i.livemode = $livemode
),
latest AS (
    SELECT
        l.invoice,
        sum(l.amount) AS amount,
        sum({_LINE_DISCOUNT}) AS discount
    FROM invoice_lines AS l
    WHERE l.account_id = $account_id AND l.livemode = $livemode
    GROUP BY l.invoice
),
subscriptions_now AS (
    SELECT
        s.id,
        CASE
            WHEN latest.amount > 0 THEN CAST(latest.discount AS DOUBLE) / latest.amount
            ELSE 0.0
        END AS discount_share
    FROM subscriptions AS s
    LEFT JOIN latest ON latest.invoice = s.latest_invoice
    WHERE s.account_id = $account_id AND s.livemode = $livemode
        AND s.status IN ('active', 'past_due')
)
SELECT
    items.currency,
    count(DISTINCT s.id) AS subscriptions,
    round(sum(items.monthly), 2) AS gross_mrr,
    round(sum(items.monthly * (1 - s.discount_share)), 2) AS mrr
FROM items
JOIN subscriptions_now AS s ON s.id = items.subscription
GROUP BY items.currency
ORDER BY items.currency
"""  # noqa: S608

REVENUE_BY_PRODUCT = f"""
WITH {_PAID_LINES.strip()}
SELECT
    paid_lines.currency,
    paid_lines.product,
    any_value(p.name) AS name,
    count(*) AS lines,
    CAST(sum(paid_lines.amount - paid_lines.discount) AS BIGINT) AS revenue
FROM paid_lines
LEFT JOIN products AS p
    ON p.id = paid_lines.product AND p.account_id = $account_id AND p.livemode = $livemode
GROUP BY paid_lines.currency, paid_lines.product
ORDER BY paid_lines.currency, revenue DESC, paid_lines.product
"""  # noqa: S608

DISCOUNTS = f"""
WITH {_PAID_LINES.strip()},
invoices_paid AS (
    SELECT invoice, currency, sum(amount) AS amount, sum(discount) AS discount
    FROM paid_lines
    GROUP BY invoice, currency
)
SELECT
    currency,
    count(*) AS invoices,
    count(*) FILTER (WHERE discount > 0) AS discounted_invoices,
    CAST(sum(amount) AS BIGINT) AS gross,
    CAST(sum(discount) AS BIGINT) AS discounts,
    CAST(sum(amount) - sum(discount) AS BIGINT) AS net,
    round(100.0 * sum(discount) / nullif(sum(amount), 0), 2) AS discount_percent
FROM invoices_paid
GROUP BY currency
ORDER BY currency
"""  # noqa: S608

#: Every analysis by name.
QUERIES: dict[str, str] = {
    "mrr": MRR,
    "revenue_by_product": REVENUE_BY_PRODUCT,
    "discounts": DISCOUNTS,
}


def run(connection: Any, name: str, account_id: str, livemode: bool = False) -> Any:
    """One analysis on a DuckDB connection, for one account and mode (a pandas DataFrame)."""
    from .._errors import SyncConfigError

    if name not in QUERIES:
        raise SyncConfigError(f"Unknown analysis {name!r}: choose from {', '.join(QUERIES)}.")
    params = {"account_id": account_id, "livemode": livemode}
    return connection.execute(QUERIES[name], params).df()

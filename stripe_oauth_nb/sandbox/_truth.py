"""The sandbox's ground truth: every invoice line and subscription item of a world, read from
its rows (not through the API), for tests that check tables built from the API.

Amounts follow ``_billing``: an invoice's ``total`` is the sum of its lines' ``amount``, less
their ``discount``, plus their ``tax``.
"""

from __future__ import annotations

from typing import Any

from ._world import World

__all__ = ["ground_truth"]


def ground_truth(world: World) -> dict[str, list[dict[str, Any]]]:
    """``invoices``, ``invoice_lines``, ``subscriptions`` and ``subscription_items`` of
    ``world`` as plain dicts (ids, not positions), in creation order. Call it holding the
    sandbox's lock (``Sandbox.ground_truth`` does)."""
    w = world
    prices, products = w.prices.rows, w.products.rows
    coupons = w.coupons.rows
    invoices = []
    for row in w.invoices.rows:
        invoices.append(
            {
                "id": row.id,
                "customer": w.customers.rows[row.customer].id,
                "subscription": w.subscriptions.rows[row.subscription].id,
                "currency": row.currency,
                "status": row.status,
                "lines": row.lines_to - row.lines_from,
                "subtotal": row.subtotal,
                "discount": row.discount,
                "tax": row.tax,
                "total": row.amount_due,
                "coupon": coupons[row.coupon].id if row.coupon >= 0 else None,
            }
        )
    lines = []
    for line in w.invoice_lines.rows:
        price = prices[line.price]
        lines.append(
            {
                "id": line.id,
                "invoice": w.invoices.rows[line.invoice].id,
                "price": price.id,
                "product": products[price.product].id,
                "currency": price.currency,
                "quantity": line.quantity,
                "amount": line.amount,
                "discount": line.discount,
                "tax": line.tax,
                "period_start": line.period_start,
                "period_end": line.period_end,
                "proration": line.proration,
                "subscription_item": (
                    w.subscription_items.rows[line.subscription_item].id
                    if line.subscription_item >= 0
                    else None
                ),
                "invoice_item": (
                    w.invoiceitems.rows[line.invoice_item].id if line.invoice_item >= 0 else None
                ),
            }
        )
    subscriptions = []
    items = []
    for sub in w.subscriptions.rows:
        coupon = coupons[sub.coupon] if sub.coupon >= 0 else None
        subscriptions.append(
            {
                "id": sub.id,
                "customer": w.customers.rows[sub.customer].id,
                "status": sub.status,
                "currency": sub.currency,
                "interval": sub.interval,
                "items": len(sub.items),
                "coupon": coupon.id if coupon else None,
                "percent_off": coupon.percent_off if coupon else None,
                "amount_off": coupon.amount_off if coupon else None,
                "coupon_duration": coupon.duration if coupon else None,
                "tax_percentage": (
                    w.tax_rates.rows[sub.tax_rate].percentage if sub.tax_rate >= 0 else None
                ),
            }
        )
        for slot, position in enumerate(sub.items):
            item = w.subscription_items.rows[position]
            price = prices[item.price]
            items.append(
                {
                    "id": item.id,
                    "subscription": sub.id,
                    "price": price.id,
                    "product": products[price.product].id,
                    "currency": price.currency,
                    "interval": price.interval,
                    "unit_amount": price.unit_amount,
                    "quantity": sub.quantities[slot],
                }
            )
    return {
        "invoices": invoices,
        "invoice_lines": lines,
        "subscriptions": subscriptions,
        "subscription_items": items,
    }

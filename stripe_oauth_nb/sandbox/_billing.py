"""How an invoice's amounts add up: each line's discount and tax, and the invoice's totals.

One rule, used when an invoice is made and by the ground truth: a line's discount is its share
of the coupon (percent off each positive line, rounded half up; an amount off split over the
positive lines in proportion, the remainder on the largest), its tax is the tax rate's
percentage of the line after its discount (exclusive, rounded half up, negative on a credit),
and the invoice's total is its lines, less their discounts, plus their tax.
"""

from __future__ import annotations

import math

__all__ = ["half_up", "line_discounts", "line_tax", "total"]


def half_up(value: float) -> int:
    """``value`` rounded to a whole number of cents, halves away from minus infinity."""
    return math.floor(value + 0.5)


def line_discounts(
    amounts: list[int], percent_off: float | None, amount_off: int | None
) -> list[int]:
    """Each line's discount for a coupon (``percent_off`` or ``amount_off``)."""
    positive = [amount if amount > 0 else 0 for amount in amounts]
    if percent_off is not None:
        return [half_up(amount * percent_off / 100) for amount in positive]
    base = sum(positive)
    if not amount_off or base <= 0:
        return [0] * len(amounts)
    off = min(amount_off, base)
    shares = [off * amount // base for amount in positive]
    largest = max(range(len(positive)), key=positive.__getitem__)
    shares[largest] += off - sum(shares)
    return shares


def line_tax(amount: int, discount: int, percentage: float | None) -> int:
    """The exclusive tax on a line after its discount (0 without a tax rate)."""
    if percentage is None:
        return 0
    return half_up((amount - discount) * percentage / 100)


def total(amounts: list[int], discounts: list[int], taxes: list[int]) -> int:
    """An invoice's total: its lines, less discounts, plus tax."""
    return sum(amounts) - sum(discounts) + sum(taxes)

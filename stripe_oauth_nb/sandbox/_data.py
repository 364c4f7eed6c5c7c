"""Seeded, deterministic sample data: installing accounts and their customers.

The same seed gives the same account ids and customers on every run, so notebook outputs and
tests are stable. Keys and tokens are *not* made here: they come from :mod:`secrets`.
"""

from __future__ import annotations

import json
import random
import string
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Account", "make_account", "random_id"]

_ALNUM = string.ascii_letters + string.digits
_FIRST = (
    "Ada", "Alan", "Barbara", "Claude", "Donald", "Edsger", "Frances", "Grace", "Hedy", "Ivan",
    "Jean", "Ken", "Leslie", "Margaret", "Niklaus", "Ole", "Radia", "Sophie", "Tim", "Yukihiro",
)  # fmt: skip
_LAST = (
    "Lovelace", "Turing", "Liskov", "Shannon", "Knuth", "Dijkstra", "Allen", "Hopper", "Lamarr",
    "Sutherland", "Sammet", "Thompson", "Lamport", "Hamilton", "Wirth", "Dahl", "Perlman",
    "Wilson", "Berners-Lee", "Matsumoto",
)  # fmt: skip
_CURRENCIES = ("usd", "usd", "usd", "eur", "gbp")
#: Seeded objects are created before this moment (2024-01-01T00:00:00Z), newest first.
_EPOCH = 1_704_067_200


def random_id(rng: random.Random, prefix: str, length: int = 14) -> str:
    """A Stripe-looking id from a seeded generator: ``prefix`` + ``length`` letters/digits."""
    return prefix + "".join(rng.choices(_ALNUM, k=length))


@dataclass
class Account:
    """An installing (connected) account and its customers, newest first."""

    id: str
    name: str
    email: str
    country: str
    default_currency: str
    created: int
    customers: list[dict[str, Any]] = field(default_factory=list)
    index: dict[str, int] = field(default_factory=dict)
    _json: dict[tuple[int, bool], bytes] = field(default_factory=dict, repr=False)

    def customer_json(self, position: int, *, livemode: bool) -> bytes:
        """The customer at ``position`` as JSON bytes (cached: seeded customers never change)."""
        key = (position, livemode)
        cached = self._json.get(key)
        if cached is None:
            cached = json.dumps({**self.customers[position], "livemode": livemode}).encode()
            self._json[key] = cached
        return cached

    def to_object(self, *, livemode: bool) -> dict[str, Any]:
        """The ``GET /v1/account`` object (the fields a client looks at, Stripe's shape)."""
        return {
            "id": self.id,
            "object": "account",
            "business_profile": {
                "mcc": "5734",
                "name": self.name,
                "product_description": None,
                "support_email": self.email,
                "support_phone": None,
                "support_url": None,
                "url": None,
            },
            "business_type": "company",
            "capabilities": {"card_payments": "active", "transfers": "active"},
            "charges_enabled": True,
            "country": self.country,
            "created": self.created,
            "default_currency": self.default_currency,
            "details_submitted": True,
            "email": self.email,
            "livemode": livemode,
            "metadata": {},
            "payouts_enabled": True,
            "settings": {
                "dashboard": {"display_name": self.name, "timezone": "Etc/UTC"},
            },
            "type": "standard",
        }


def _customer(rng: random.Random, number: int, created: int) -> dict[str, Any]:
    first, last = rng.choice(_FIRST), rng.choice(_LAST)
    handle = f"{first}.{last}".lower().replace("-", "")
    return {
        "id": random_id(rng, "cus_"),
        "object": "customer",
        "address": None,
        "balance": 0,
        "created": created,
        "currency": rng.choice(_CURRENCIES),
        "default_source": None,
        "delinquent": False,
        "description": None,
        "discount": None,
        "email": f"{handle}{number}@example.com",
        "invoice_prefix": "".join(rng.choices(string.ascii_uppercase + string.digits, k=8)),
        "invoice_settings": {
            "custom_fields": None,
            "default_payment_method": None,
            "footer": None,
            "rendering_options": None,
        },
        "metadata": {"sandbox_seq": str(number)},
        "name": f"{first} {last}",
        "next_invoice_sequence": 1,
        "phone": None,
        "preferred_locales": [],
        "shipping": None,
        "tax_exempt": "none",
        "test_clock": None,
    }


def make_account(rng: random.Random, *, name: str, customers: int) -> Account:
    """An account with ``customers`` seeded customers (``created`` strictly decreasing)."""
    account_id = random_id(rng, "acct_", 16)
    slug = "".join(ch for ch in name.lower() if ch.isalnum()) or "account"
    account = Account(
        id=account_id,
        name=name,
        email=f"owner@{slug}.example.com",
        country="US",
        default_currency="usd",
        created=_EPOCH - 400 * 86_400,
    )
    # One customer every 17 minutes backwards from the epoch: newest first, like Stripe lists.
    account.customers = [_customer(rng, n, _EPOCH - 1020 * n) for n in range(customers)]
    account.index = {c["id"]: i for i, c in enumerate(account.customers)}
    if len(account.index) != len(account.customers):  # pragma: no cover - 62**14 ids
        raise RuntimeError("seeded customer ids collided; use another seed")
    return account

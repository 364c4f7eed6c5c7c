"""What the sandbox's business sells, and the discounts and taxes it applies: data only.

Plans (one per subscription, its first item), add-ons (further items of a subscription, each
price at most once, as Stripe requires), one-off products (invoice items), coupons with their
promotion codes, and one tax rate per currency. Amounts are monthly, in usd, eur and gbp (in
that order); yearly prices are ten months.
"""

from __future__ import annotations

import itertools
from typing import Final

__all__ = [
    "ADD_ONS",
    "COUPONS",
    "CURRENCIES",
    "ONE_OFFS",
    "PER_SEAT",
    "PLANS",
    "PLAN_CUMULATIVE",
    "PLAN_INDEXES",
    "PROMOTION_CODES",
    "TAX_RATES",
    "WORKSHOP",
]

CURRENCIES: Final = ("usd", "eur", "gbp")

#: (name, description, monthly usd/eur/gbp unit amounts, weight among subscriptions).
PLANS: Final = (
    ("Starter", "Dashboards for one team.", (1900, 1700, 1500), 0.5),
    (
        "Growth",
        "Dashboards and alerts for growing teams, priced per seat.",
        (4900, 4500, 3900),
        0.3,
    ),
    ("Scale", "Everything, with single sign-on and an uptime promise.", (14900, 13900, 11900), 0.1),
    ("Analytics add-on", "Exports and a SQL console.", (900, 800, 700), 0.1),
)
PLAN_INDEXES: Final = tuple(range(len(PLANS)))
PLAN_CUMULATIVE: Final = tuple(itertools.accumulate(plan[3] for plan in PLANS))
#: The plan priced per seat (Growth): its subscriptions have 1 to 5 seats.
PER_SEAT: Final = 1

#: (name, description, monthly usd/eur/gbp, most units a customer takes). With the plan, a
#: subscription has at most 1 + len(ADD_ONS) = 15 items.
ADD_ONS: Final = (
    ("Extra workspace", "Another workspace with its own dashboards.", (1500, 1400, 1200), 4),
    ("Salesforce connector", "Sync accounts and opportunities.", (2900, 2700, 2300), 1),
    ("HubSpot connector", "Sync contacts and deals.", (2900, 2700, 2300), 1),
    ("Snowflake export", "Nightly exports to your warehouse.", (3900, 3600, 3100), 1),
    ("BigQuery export", "Nightly exports to BigQuery.", (3900, 3600, 3100), 1),
    ("Slack alerts", "Alerts in your channels.", (500, 500, 400), 1),
    ("Audit log", "Who changed what, kept for a year.", (1900, 1700, 1500), 1),
    ("Priority support", "Answers within four working hours.", (9900, 9200, 7900), 1),
    ("Custom domain", "Dashboards on your own domain.", (900, 800, 700), 1),
    ("Longer retention", "Keep raw events for three years.", (2400, 2200, 1900), 3),
    ("Staging environment", "A copy to try changes on.", (1400, 1300, 1100), 1),
    ("API access", "Read everything over a REST API.", (1900, 1700, 1500), 1),
    ("White-label reports", "Reports in your brand.", (4900, 4500, 3900), 1),
    ("Viewer seats", "Read-only seats, sold in packs of five.", (1000, 900, 800), 6),
)

#: One-off products (invoice items): (name, description, usd/eur/gbp unit amounts).
WORKSHOP: Final = (
    "Onboarding workshop",
    "A half-day workshop with our team.",
    (50000, 45000, 40000),
)
ONE_OFFS: Final = (
    WORKSHOP,
    ("Data import", "Importing your historical data.", (25000, 23000, 20000)),
    ("Custom report", "A report built for you.", (15000, 14000, 12000)),
    ("Export pack", "A thousand extra exports.", (2000, 1800, 1600)),
    ("Training seat", "A seat in a live training.", (9900, 9200, 7900)),
)

#: (name, percent_off, amount_off (usd cents), duration, months, promotion code or None).
COUPONS: Final = (
    ("Welcome: 20% off for 3 months", 20.0, None, "repeating", 3, "WELCOME"),
    ("Annual partner: 15% off", 15.0, None, "forever", None, "PARTNER15"),
    ("Launch: half off the first invoice", 50.0, None, "once", None, "LAUNCH"),
    ("$10 off once", None, 1000, "once", None, None),
    ("Nonprofit: 25% off", 25.0, None, "forever", None, None),
)
#: Promotion codes: (code, coupon index).
PROMOTION_CODES: Final = tuple(
    (code, index) for index, coupon in enumerate(COUPONS) if (code := coupon[5]) is not None
)

#: Tax per currency (exclusive): (display name, description, percentage, country, state,
#: jurisdiction, tax type).
TAX_RATES: Final = {
    "usd": ("Sales tax", "California sales tax", 7.25, "US", "CA", "US - CA", "sales_tax"),
    "eur": ("VAT", "VAT Germany", 19.0, "DE", None, "DE", "vat"),
    "gbp": ("VAT", "VAT United Kingdom", 20.0, "GB", None, "GB", "vat"),
}

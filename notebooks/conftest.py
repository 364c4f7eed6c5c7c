"""Notebooks run unattended under nbval: their "unattended" cells click for the reader."""

from __future__ import annotations

import os

os.environ.setdefault("STRIPE_OAUTH_NB_UNATTENDED", "1")

"""The app's own client ids on a sandbox target: the manifest is registered there first.

:class:`~stripe_oauth_nb._target.Target` decides what the install app talks to (real Stripe, the
sandbox at ``STRIPE_OAUTH_NB_SANDBOX_URL``, or one started in this process). On a sandbox the
manifest is then registered (the sandbox's ``stripe apps upload``), which gives the app's client
ids, so the whole loop, install page included, runs offline.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from .._modes import MODES
from .._settings import Settings
from ..manifest import Manifest, register_with_sandbox

if TYPE_CHECKING:
    from .._target import Target

__all__ = ["app_settings"]


def app_settings(target: Target, manifest: Manifest) -> Settings:
    """``target.settings``; on a sandbox, with ``manifest`` registered and its client ids."""
    settings = target.settings
    if not target.is_sandbox:
        return settings
    app = register_with_sandbox(manifest, settings.api_base)
    credentials = {
        mode: replace(settings.credentials(mode), client_id=app.client_ids.get(mode))
        for mode in MODES
    }
    return settings.with_changes(test=credentials["test"], live=credentials["live"])

"""ipywidgets forms over the core: each one reads inputs, calls the core and shows results.

Names load on first use, so ``import stripe_oauth_nb.widgets`` does not import ipywidgets.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# public name -> module (relative to this package) that defines it
_EXPORTS: dict[str, str] = {
    "CallbackForm": ".callback_form",
    "ManifestForm": ".manifest_form",
    "ProgressBar": ".validate_panel",
    "SyncPanel": ".sync_panel",
    "TokensPanel": ".tokens_panel",
    "ValidatePanel": ".validate_panel",
    "Walkthrough": ".walkthrough",
}

__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:  # pragma: no cover
    from .callback_form import CallbackForm as CallbackForm
    from .manifest_form import ManifestForm as ManifestForm
    from .sync_panel import SyncPanel as SyncPanel
    from .tokens_panel import TokensPanel as TokensPanel
    from .validate_panel import ProgressBar as ProgressBar
    from .validate_panel import ValidatePanel as ValidatePanel
    from .walkthrough import Walkthrough as Walkthrough


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'stripe_oauth_nb.widgets' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)

"""stripe-oauth-nb: from a Stripe account to a self-refreshing Stripe Apps OAuth token, and on
to your Stripe data.

    from stripe_oauth_nb import connect

    conn = connect()                   # stored tokens, or authorize right here
    conn.stripe.customers.list()       # the official library, token always fresh
    conn.dataframe("/v1/charges")      # every page, as a table

The steps one by one live in submodules: :mod:`stripe_oauth_nb.manifest` (step 1),
:mod:`stripe_oauth_nb.oauth` (install link and callback), :mod:`stripe_oauth_nb.tokens`,
:mod:`stripe_oauth_nb.api`; errors in :mod:`stripe_oauth_nb.errors`; the forms in
:mod:`stripe_oauth_nb.widgets`; the offline stand-in for Stripe in :mod:`stripe_oauth_nb.sandbox`.
Names are imported on first use, so ``import stripe_oauth_nb`` stays light.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._version import __version__

__all__ = [
    "ApiClient",
    "Connection",
    "Flow",
    "Manifest",
    "Secret",
    "Settings",
    "Target",
    "TokenManager",
    "TokenSet",
    "connect",
    "load_settings",
    "mask",
]

# public name -> private module that defines it (kept in step with __all__ by a test)
_EXPORTS: dict[str, str] = {
    "ApiClient": ".api",
    "Connection": "._connect",
    "Flow": "._flow",
    "Manifest": ".manifest",
    "Secret": "._masking",
    "Settings": "._settings",
    "Target": "._target",
    "TokenManager": ".tokens",
    "TokenSet": "._tokenset",
    "connect": "._connect",
    "load_settings": "._settings",
    "mask": "._masking",
}

if TYPE_CHECKING:  # pragma: no cover
    from ._connect import Connection, connect
    from ._flow import Flow
    from ._masking import Secret, mask
    from ._settings import Settings, load_settings
    from ._target import Target
    from ._tokenset import TokenSet
    from .api import ApiClient
    from .manifest import Manifest
    from .tokens import TokenManager


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'stripe_oauth_nb' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    if name in ("connect", "Connection"):
        _show_forms_in_notebooks()
    globals()[name] = value
    return value


def _show_forms_in_notebooks() -> None:
    """The front door joins a face to the flow: ``connect()`` in a notebook shows the widgets'
    authorization form. The widget module loads only when a form is shown."""
    from ._connect import Presenter, use_notebook_presenter

    def notebook_presenter() -> Presenter:
        from .widgets.authorize_view import AuthorizeView

        presenter: Presenter = AuthorizeView.show()
        return presenter

    use_notebook_presenter(notebook_presenter)


def __dir__() -> list[str]:
    return sorted([*__all__, "__version__"])

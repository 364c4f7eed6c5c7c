"""The Marketplace install page and install backend: ``stripe-oauth-nb serve``.

A small ASGI app (Starlette on uvicorn) that is the app's *Marketplace install URL* and its OAuth
callback: visitors read what the app does and asks for, press Install, accept on Stripe's page,
and come back to a page naming the connected account, while the token set lands in the
configured store (file, keyring or a shared database), ready for the API client and the sync.

    from stripe_oauth_nb.manifest import Manifest
    from stripe_oauth_nb.serve import InstallServer, ServeConfig

    config = ServeConfig.create(settings, Manifest.load("stripe-app.json"),
                                public_url="https://install.example.com", host="0.0.0.0")
    InstallServer(config).serve_forever()      # or: with InstallServer(config).start(): ...

Several processes behind a load balancer: give each the same ``STRIPE_OAUTH_NB_SERVE_SECRET``
(cookie signing key) and the same token store and attempt log (the attempt log sits beside a
file store; put both on storage every process sees). A code is then sent at most once whichever
process receives the redirect. See the README's "Publishing" section.

:func:`visit` goes through the page like one browser (the sandbox's consent page answered by
script), for demos and smoke tests.

Only this package imports Starlette and uvicorn (``import stripe_oauth_nb`` stays light).
"""

from __future__ import annotations

from ._app import COOKIE_NAME, create_app
from ._config import CALLBACK_PATH, SECRET_ENV, PublicURL, ServeConfig
from ._server import InstallServer
from ._target import app_settings
from ._visitor import Visit, visit

__all__ = [
    "CALLBACK_PATH",
    "COOKIE_NAME",
    "SECRET_ENV",
    "InstallServer",
    "PublicURL",
    "ServeConfig",
    "Visit",
    "app_settings",
    "create_app",
    "visit",
]


def __dir__() -> list[str]:
    return sorted(__all__)

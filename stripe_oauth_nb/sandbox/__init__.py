"""A local stand-in for ``marketplace.stripe.com`` and ``api.stripe.com`` for Stripe Apps OAuth.

    from stripe_oauth_nb.sandbox import Sandbox
    with Sandbox(customers=25) as sb:           # 127.0.0.1, a free port, uvicorn in a thread
        settings = sb.settings(mode="test")     # Settings(target="sandbox") pointing here
        location = sb.approve(install_url)      # answer the consent page like a browser

For a sandbox running in another process (``stripe-oauth-nb sandbox``, or a fixture), the same
consent-page driver is a plain function; it needs only the install link::

    from stripe_oauth_nb.sandbox import approve
    location = approve(install_url, decision="accept", follow=True, account=None, timeout=5.0)

It GETs the consent page, POSTs its form with ``decision`` (``"accept"`` or ``"deny"``) and
returns the redirect's Location; ``follow=True`` then GETs that Location, so the code (or the
``error=access_denied``) reaches a callback server. ``account`` picks another installing account. It
raises :class:`~stripe_oauth_nb._errors.SandboxError` when the page refuses the link or the
callback cannot be reached. ``Sandbox.approve`` calls it with the same arguments.

Wire protocol (what the official ``stripe`` library and an OAuth 2 client see):

- ``GET /oauth/v2/authorize`` and ``GET /oauth/v2/chnlink_…/authorize`` (``client_id``,
  optional ``redirect_uri``, ``state``): the consent page; one form, POSTed back to the same path
  with ``decision=accept|deny``. Bad links get an HTML error page (400) and no redirect.
- ``POST /v1/oauth/token``: Basic auth with the developer's secret key (``sk_…:``).
  ``grant_type=authorization_code`` (code single-use, 5 minutes; reuse revokes every token
  issued from it) or ``refresh_token`` (rotates every time; the old one dies at once).
  An unknown key is a 401 in Stripe's API error shape. A *valid* developer key of the other
  mode is a 400 ``invalid_grant`` (the code or token is refused, the key is not): the reference
  files key-mode mismatch under ``invalid_grant``. Such a refusal does not use up the code.
- ``GET /v1/account``, ``GET /v1/customers`` (``limit``, ``starting_after``, ``ending_before``,
  ``email``), ``GET /v1/customers/{id}``: with an access token (Bearer or Basic user), or with
  the developer's secret key, which reads the developer's own account (no customers).
  Customers need the app's ``customer_read`` (or ``customer_write``) permission, else 403.
  Live-mode tokens see the same seeded customers with ``livemode: true``.

Controls, in-process (``Sandbox`` methods) or over HTTP (JSON in, JSON out; 400 on bad input):

==========================  =====================================================================
``POST /_sandbox/clock``    ``{"seconds": N}``: ``advance_clock(N)``; answers ``{"now": t}``
                            (``GET`` reads it)
``POST /_sandbox/faults``   ``{"endpoint", "kind", "times", "status", "seconds", "retry_after"}``:
                            ``inject_fault(...)``; ``GET`` lists pending faults
``POST /_sandbox/reset``    ``reset()``: forget codes, tokens, faults, stats and clock moves
                            (keys, apps and accounts stay)
``POST /_sandbox/apps``     a manifest: ``register_app(...)``; ``GET`` lists the apps
``GET /_sandbox/stats``     ``{"requests": {endpoint: n}, "grants": {grant_type: n},
                            "issued": {grant_type: n}}``
==========================  =====================================================================

Faults: ``endpoint`` is ``token``, ``account``, ``customers``, ``authorize`` or ``*`` (the first
three); ``kind`` is ``delay`` (sleep ``seconds``, then answer), ``error`` (``status`` 5xx,
Stripe error body), ``rate_limit`` (429, ``Retry-After: retry_after``,
``Stripe-Should-Retry: true``) or ``drop`` (process the request fully, e.g. rotate the refresh
token, then send only the status line and headers and close: the client sees an incomplete
response). Each fault applies to the next ``times`` matching requests.

Stats count requests by endpoint (``authorize``, ``token``, ``account``, ``customers``,
``not_found``), token requests by grant type as received, and token pairs actually issued.

Test-only: when the environment variable ``STRIPE_OAUTH_NB_SANDBOX_SECRETS_FILE`` names a file,
every sandbox in the process appends each secret it mints (developer secret keys, authorization
codes, access tokens, refresh tokens) to it, one per line, unmasked (file mode 0600). The leak
test (``tests/test_leaks.py``) sets it for notebook kernels, then searches their saved notebooks
and DEBUG logs for those exact values. Never set it otherwise.
"""

from __future__ import annotations

from ._browser import approve
from ._sandbox import ModeKeys, Sandbox
from ._state import Fault, RegisteredApp

__all__ = ["Fault", "ModeKeys", "RegisteredApp", "Sandbox", "approve"]

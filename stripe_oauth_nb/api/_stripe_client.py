"""The official ``stripe`` library, with an access token that is always fresh.

stripe-python's extension point for the transport is ``StripeClient(http_client=...)``: any
subclass of ``stripe.HTTPClient`` that implements ``request``. :class:`FreshTokenHTTPClient`
wraps the library's default client and, on every request, puts the current access token of a
:class:`~stripe_oauth_nb.api.TokenAuth` into ``Authorization`` (refreshing it shortly before it
expires, single-flight, through the token manager). When Stripe still answers 401
``api_key_expired`` (clocks disagree, or another machine rotated the pair) it renews the token
once and sends the request once more, exactly as the toolkit's own API client does. The key the
``StripeClient`` was built with is never sent. Every request names the settings'
``STRIPE_API_VERSION`` (``Stripe-Version``), as the toolkit's own client does.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .._errors import needs_extra
from .._settings import Mode, Settings

if TYPE_CHECKING:
    import stripe

    from ..tokens import TokenManager
    from . import TokenAuth

__all__ = ["stripe_client"]


def _import_stripe() -> Any:
    try:
        import stripe
    except ImportError:
        raise ImportError(
            needs_extra(
                "conn.stripe (the official library)",
                "stripe",
                otherwise=" (or pip install stripe); the toolkit's own client (conn.get, "
                "conn.list_all, conn.dataframe) works without it",
            )
        ) from None
    return stripe


def _expired(status: int, content: Any) -> bool:
    from .._http import stripe_error

    return status == 401 and stripe_error(content).get("code") == "api_key_expired"


def _fresh_client_class() -> type[Any]:
    stripe = _import_stripe()

    class FreshTokenHTTPClient(stripe.HTTPClient):  # type: ignore[misc, name-defined]
        """A ``stripe.HTTPClient`` that sends the current access token of ``auth``."""

        name = "stripe-oauth-nb"

        def __init__(self, auth: TokenAuth, inner: Any) -> None:
            super().__init__()
            self._auth = auth
            self._inner = inner

        @staticmethod
        def _with(headers: Mapping[str, str] | None, token: str) -> dict[str, str]:
            sent = {k: v for k, v in (headers or {}).items() if k.lower() != "authorization"}
            sent["Authorization"] = f"Bearer {token}"
            return sent

        def request(
            self,
            method: str,
            url: str,
            headers: Mapping[str, str] | None,
            post_data: Any = None,
            **_options: Any,
        ) -> tuple[Any, int, Mapping[str, str]]:
            token = self._auth.access_token()
            answer = self._inner.request(
                method, url, self._with(headers, token.reveal()), post_data
            )
            if _expired(answer[1], answer[0]):
                token = self._auth.renew(token)
                answer = self._inner.request(
                    method, url, self._with(headers, token.reveal()), post_data
                )
            return answer  # type: ignore[no-any-return]

        def request_stream(
            self,
            method: str,
            url: str,
            headers: Mapping[str, str] | None,
            post_data: Any = None,
            **_options: Any,
        ) -> tuple[Any, int, Mapping[str, str]]:
            token = self._auth.access_token()
            return self._inner.request_stream(  # type: ignore[no-any-return]
                method, url, self._with(headers, token.reveal()), post_data
            )

        def close(self) -> None:
            self._inner.close()

    return FreshTokenHTTPClient


def _transport(library: Any) -> Any:
    """stripe-python's requests client with the toolkit's connect and read timeouts.

    Left alone, the library waits up to 80 s for a connection and for each read.
    """
    from .._http import DEFAULT_TIMEOUT

    return library.RequestsClient(timeout=(DEFAULT_TIMEOUT.connect, DEFAULT_TIMEOUT.read))


def stripe_client(
    settings: Settings, tokens: TokenManager, account_id: str, mode: Mode
) -> stripe.StripeClient:
    """A ``stripe.StripeClient`` for (account, mode) whose token refreshes itself.

    A piece of the one door, :func:`~stripe_oauth_nb.connect`: ``Connection.stripe`` is this."""
    from . import TokenAuth

    library = _import_stripe()
    auth = TokenAuth(tokens, account_id, mode == "live", clock=tokens.clock)
    http_client = _fresh_client_class()(auth, _transport(library))
    base = settings.api_base.rstrip("/")
    addresses: dict[str, str] = (
        {} if base == "https://api.stripe.com" else {"api": base, "files": base, "connect": base}
    )
    client: Any = library.StripeClient(
        # Required by the library and never sent: every request gets the fresh token instead.
        api_key=auth.access_token().reveal(),
        http_client=http_client,
        base_addresses=addresses,
        # the toolkit's one pinned version (the library's own pin is newer than the sandbox's)
        stripe_version=settings.api_version,
    )
    return client  # type: ignore[no-any-return]

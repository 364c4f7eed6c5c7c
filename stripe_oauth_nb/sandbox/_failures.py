"""What the sandbox answers when Stripe would refuse: the API's and the token endpoint's shapes.

These are not the package's exceptions (those live in ``stripe_oauth_nb._errors``): they carry a
refusal from the sandbox's rules to its HTTP layer, which turns each into Stripe's JSON body.
"""

from __future__ import annotations

import re
from typing import Any, Final

__all__ = ["APIFailure", "ConsentFailure", "OAuthFailure", "stripe_mask"]

_KEY_PREFIX: Final = re.compile(r"^((?:sk|rk|pk)_(?:test|live)_|ac_|rt_)")


def stripe_mask(key: str) -> str:
    """A key as Stripe names it in error messages: ``sk_test_****abcd``."""
    match = _KEY_PREFIX.match(key)
    prefix = match.group(1) if match else ""
    rest = key[len(prefix) :]
    tail = rest[-4:] if len(rest) >= 12 else ""
    return f"{prefix}****{tail}"


class OAuthFailure(Exception):
    """A token-endpoint refusal in the OAuth shape (HTTP 400)."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error = error
        self.description = description

    def body(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}


class APIFailure(Exception):
    """A refusal in Stripe's API error shape ``{"error": {...}}``."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.code = code
        self.param = param
        #: Extra response headers (``Retry-After`` on a 429).
        self.headers = dict(headers or {})

    def body(self, request_log_url: str | None = None) -> dict[str, Any]:
        error: dict[str, Any] = {"type": self.type, "message": self.message}
        if self.code:
            error["code"] = self.code
            error["doc_url"] = f"https://stripe.com/docs/error-codes/{self.code.replace('_', '-')}"
        if self.param:
            error["param"] = self.param
        if request_log_url:
            error["request_log_url"] = request_log_url
        return {"error": error}


class ConsentFailure(Exception):
    """The consent page must show an error and must not redirect."""

"""Step 1: the app manifest, ``stripe-app.json``.

Load, create, edit and save manifests (:class:`Manifest`), check them offline against Stripe's
schema and the OAuth and review rules (:func:`check`, :func:`check_file`, :func:`check_text`,
each returning a list of :class:`Finding`), browse the permission catalogue
(:func:`load_catalogue`), check readiness for Stripe's review (:func:`check_publish`), and
register a manifest with the embedded sandbox (:func:`register_with_sandbox`).

    >>> from stripe_oauth_nb.manifest import Manifest
    >>> m = Manifest.new(name="Reports Sync", id="com.example.reports",
    ...                  redirect_uris=["https://example.com/callback"],
    ...                  permissions={"customer_read": "List customers for the report."})
    >>> [f.code for f in m.check()]
    []
"""

from __future__ import annotations

from ._catalogue import Permission, PermissionCatalogue, PermissionGroup, load_catalogue
from ._checks import check, check_file, check_text
from ._document import Manifest
from ._findings import Finding, Severity, format_findings, has_errors
from ._opening import Opened, open_for_editing
from ._png import png_size, write_placeholder_icon
from ._publish import check_publish, check_publish_file
from ._sandbox_upload import register_with_sandbox
from ._schema import load_schema

__all__ = [
    "Finding",
    "Manifest",
    "Opened",
    "Permission",
    "PermissionCatalogue",
    "PermissionGroup",
    "Severity",
    "check",
    "check_file",
    "check_publish",
    "check_publish_file",
    "check_text",
    "format_findings",
    "has_errors",
    "load_catalogue",
    "load_schema",
    "open_for_editing",
    "png_size",
    "register_with_sandbox",
    "write_placeholder_icon",
]


def __dir__() -> list[str]:
    return sorted(__all__)

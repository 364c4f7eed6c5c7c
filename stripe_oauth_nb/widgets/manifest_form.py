"""The manifest form: edit stripe-app.json with findings updating as you type.

Every change goes through :class:`stripe_oauth_nb.manifest.Manifest` and every check through
:func:`stripe_oauth_nb.manifest.check`; the form only moves values between widgets and the core.
Key widgets carry ``som-manifest-…`` CSS classes for browser tests.
"""

from __future__ import annotations

import functools
import html
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import ipywidgets as w

from .._app_record import RegisteredApp
from .._errors import InstallLinkError, ManifestError, StripeOAuthNBError
from .._masking import mask_text
from .._settings import DEFAULT_REDIRECT_URI
from ..manifest import (
    Finding,
    Manifest,
    check,
    has_errors,
    load_catalogue,
    open_for_editing,
    register_with_sandbox,
)
from ..oauth._install_link import check_not_landed_url
from ._common import explain, on_click, safe_text
from ._style import COLOURS, TEXT_WIDTH, status_html, text_layout

__all__ = ["ManifestForm"]

_NOT_SET = "(not set)"
_ACCESS_TYPES = ("oauth", "platform", "restricted_api_key")
_DISTRIBUTIONS = ("public", "private")


class _HasApiBase(Protocol):
    @property
    def api_base(self) -> str: ...


# Text, not emoji: a machine without an emoji font would show empty boxes.
_ERROR_CELL = f'<b style="color:{COLOURS["error"]}">error</b>'
_WARNING_CELL = f'<span style="color:{COLOURS["warning"]}">warning</span>'
_CODE = re.compile(r"`([^`]+)`")


def _prose(text: str) -> str:
    """Escaped text whose `backticked` words show as code, not as backticks."""
    return _CODE.sub(r"<code>\1</code>", html.escape(text))


def _findings_html(findings: list[Finding]) -> str:
    if not findings:
        return "<b>No problems found.</b> The manifest is ready to upload."
    errors = sum(f.is_error for f in findings)
    rows = "".join(
        "<tr>"
        f"<td>{_ERROR_CELL if f.is_error else _WARNING_CELL}</td>"
        f"<td><code>{html.escape(f.path)}</code>"
        + (f" (line {f.line}, col {f.column})" if f.line is not None else "")
        + f"</td><td>{_prose(f.message)}</td><td>{_prose(f.fix)}</td></tr>"
        for f in findings
    )
    return (
        f"<b>{errors} error(s), {len(findings) - errors} warning(s)</b>"
        "<table><tr><th>severity</th><th>where</th><th>problem</th><th>fix</th></tr>"
        f"{rows}</table>"
    )


class ManifestForm(w.VBox):  # type: ignore[misc]  # ipywidgets ships no type hints
    """Open or create a manifest, edit it, see findings and a JSON preview, save it.

    ``path``: a manifest to open (or where a new one will be saved). ``sandbox``: a running
    ``Sandbox`` or its API base URL; when given, a "Register with sandbox" button appears.
    """

    def __init__(
        self,
        path: str | Path | None = None,
        sandbox: str | _HasApiBase | None = None,
        **kwargs: Any,
    ) -> None:
        self.manifest = Manifest.new(name="", id="", redirect_uris=[DEFAULT_REDIRECT_URI])
        self.findings: list[Finding] = []
        self.registered: RegisteredApp | None = None
        self._sandbox = sandbox
        self._loading = False
        catalogue = load_catalogue()
        self._groups = {g.object: g for g in catalogue.groups}

        def text(description: str, css: str, placeholder: str = "") -> w.Text:
            box = w.Text(description=description, placeholder=placeholder, **text_layout())
            box.add_class(css)
            return box

        def button(description: str, css: str, style: str = "") -> w.Button:
            b = w.Button(description=description, button_style=style, layout=w.Layout(width="auto"))
            b.add_class(css)
            return b

        self.path_text = text("File", "som-manifest-path", "stripe-app.json")
        self.open_button = button("Open", "som-manifest-open")
        self.new_button = button("New", "som-manifest-new")
        self.id_text = text("id", "som-manifest-id", "com.example.reports")
        self.name_text = text("name", "som-manifest-name", "Reports Sync")
        self.version_text = text("version", "som-manifest-version", "0.0.1")
        self.access = w.Dropdown(description="access", options=(_NOT_SET, *_ACCESS_TYPES))
        self.access.add_class("som-manifest-access")
        self.distribution = w.Dropdown(
            description="distribution", options=(_NOT_SET, *_DISTRIBUTIONS)
        )
        self.distribution.add_class("som-manifest-distribution")

        self.redirect_list = w.Select(description="redirects", options=(), rows=4, **text_layout())
        self.redirect_list.add_class("som-manifest-redirect-list")
        self.redirect_input = text("add URI", "som-manifest-redirect-input", DEFAULT_REDIRECT_URI)
        self.redirect_add = button("Add URI", "som-manifest-redirect-add")
        self.redirect_remove = button("Remove selected", "som-manifest-redirect-remove")

        self.permission_group = w.Dropdown(description="object", options=tuple(self._groups))
        self.permission_group.add_class("som-manifest-permission-group")
        self.permission_choice = w.Dropdown(description="permission", options=())
        self.permission_choice.add_class("som-manifest-permission-name")
        self.permission_purpose = text(
            "purpose", "som-manifest-permission-purpose", "Why the app needs it"
        )
        self.permission_help = w.HTML()
        self.permission_add = button("Add permission", "som-manifest-permission-add")
        self.permission_rows = w.VBox()
        self.permission_rows.add_class("som-manifest-permissions")

        self.findings_html = w.HTML()
        self.findings_html.add_class("som-manifest-findings")
        self.preview = w.Textarea(disabled=True, layout=w.Layout(width="100%", height="16em"))
        self.preview.add_class("som-manifest-preview")
        self.save_button = button("Save", "som-manifest-save", "primary")
        self.status = w.HTML()
        self.status.add_class("som-manifest-status")
        self.next_step = w.HTML()
        self.next_step.add_class("som-manifest-next")
        self.register_button: w.Button | None = None
        if sandbox is not None:
            self.register_button = button("Register with sandbox", "som-manifest-register")
            on_click(self.register_button, self.register, self.status)

        self._wire()
        self._on_group({"new": self.permission_group.value})
        actions = [self.save_button]
        if self.register_button is not None:
            actions.append(self.register_button)
        super().__init__(
            children=[
                w.HBox([self.path_text, self.open_button, self.new_button]),
                w.HTML("<b>App</b>"),
                self.id_text,
                self.name_text,
                self.version_text,
                self.access,
                self.distribution,
                w.HTML("<b>Redirect URIs</b> (the first is the default)"),
                self.redirect_list,
                w.HBox([self.redirect_input, self.redirect_add, self.redirect_remove]),
                w.HTML("<b>Permissions</b>"),
                self.permission_rows,
                w.HBox([self.permission_group, self.permission_choice]),
                self.permission_help,
                w.HBox([self.permission_purpose, self.permission_add]),
                w.HTML("<b>Findings</b>"),
                self.findings_html,
                w.HBox(actions),
                self.status,
                self.next_step,
                w.HTML("<b>stripe-app.json</b>"),
                self.preview,
            ],
            **kwargs,
        )
        self.add_class("som-manifest-form")
        if path is not None:
            self.path_text.value = str(path)
            if Path(path).exists():
                self.open_file()
                return
        self._show_manifest()

    # --- wiring ------------------------------------------------------------------------------

    def _wire(self) -> None:
        def field(key: str) -> Callable[[dict[str, Any]], None]:
            def apply(change: dict[str, Any]) -> None:
                if self._loading:
                    return
                value = change["new"]
                if value == _NOT_SET:
                    self.manifest.remove(key)
                else:
                    self.manifest.set(key, value)
                self._edited()

            return apply

        self.id_text.observe(field("id"), "value")
        self.name_text.observe(field("name"), "value")
        self.version_text.observe(field("version"), "value")
        self.access.observe(field("stripe_api_access_type"), "value")
        self.distribution.observe(field("distribution_type"), "value")
        self.path_text.observe(lambda _: None if self._loading else self._refresh(), "value")
        on_click(self.open_button, self.open_file, self.status)
        on_click(self.new_button, self.new, self.status)
        on_click(self.save_button, self.save, self.status)
        on_click(self.redirect_add, self._add_redirect, self.status)
        on_click(self.redirect_remove, self._remove_redirect, self.status)
        self.permission_group.observe(self._on_group, "value")
        self.permission_choice.observe(self._on_choice, "value")
        on_click(self.permission_add, self._add_permission, self.status)

    def _on_group(self, change: dict[str, Any]) -> None:
        group = self._groups[change["new"]]
        names = tuple(p.name for p in group.preferred())
        self.permission_choice.options = names
        # A Dropdown whose options are replaced keeps no selection (ipywidgets 8.1): choose the
        # first permission of the object, so "Add permission" always has one to add.
        self.permission_choice.value = names[0] if names else None
        self.permission_help.value = html.escape(group.description)

    def _on_choice(self, change: dict[str, Any]) -> None:
        name = change["new"]
        if name in self.manifest.permissions:
            self.permission_purpose.value = self.manifest.permissions[name]

    # --- actions -----------------------------------------------------------------------------

    def _base_dir(self) -> Path | None:
        return Path(self.path_text.value).parent if self.path_text.value.strip() else None

    def open_file(self, path: str | Path | None = None) -> None:
        """Load ``path`` (or the File box's path) into the form."""
        if path is not None:
            self._set_quietly(self.path_text, str(path))
        try:
            opened = open_for_editing(self.path_text.value)
        except ManifestError as exc:
            self._error(exc)
            return
        if opened.manifest is None:
            self.findings = opened.findings
            self.findings_html.value = _findings_html(self.findings)
            self._status(opened.note, error=True)
            return
        self.manifest = opened.manifest
        self._status(opened.note)
        self._show_manifest()

    def new(self) -> None:
        """Start a new OAuth-ready manifest (the File box keeps its path)."""
        self.manifest = Manifest.new(name="", id="", redirect_uris=[DEFAULT_REDIRECT_URI])
        self._status("New manifest: fill in id and name, add permissions, then Save.")
        self._show_manifest()

    def save(self) -> Path | None:
        """Save to the File box's path through the core (atomic); returns the path or None."""
        raw = self.path_text.value.strip()
        if not raw:
            self._status("Type a file name in File first, e.g. stripe-app.json.", error=True)
            return None
        try:
            saved = self.manifest.save(Path(raw))
        except StripeOAuthNBError as exc:
            self._error(exc)
            return None
        self._refresh()
        if has_errors(self.findings):
            self._status(
                f"Saved {saved}, but it still has errors: Stripe will refuse the upload until "
                "they are fixed.",
                error=True,
            )
        else:
            self._status(f"Saved {saved}.")
        folder = html.escape(str(saved.parent))
        self.next_step.value = (
            f"Next: <code>cd {folder} &amp;&amp; stripe apps upload</code> uploads it to Stripe"
            + (", or press Register with sandbox (beside Save)." if self.register_button else ".")
        )
        return saved

    def register(self) -> RegisteredApp | None:
        """Register the manifest with the sandbox; shows the client ids (or why not)."""
        if self._sandbox is None:
            self._status("No sandbox: create the form with sandbox=sb.", error=True)
            return None
        try:
            app = register_with_sandbox(self.manifest, self._sandbox, base_dir=self._base_dir())
        except StripeOAuthNBError as exc:
            self._error(exc)
            return None
        self.registered = app
        self._status(
            f"Registered {app.name} with the sandbox: test client id {app.client_id('test')}, "
            f"live client id {app.client_id('live')}."
        )
        return app

    def _add_redirect(self) -> None:
        uri = self.redirect_input.value.strip() or DEFAULT_REDIRECT_URI
        try:
            check_not_landed_url(uri)  # a landed URL carries a live code: never keep it
            self.manifest.add_redirect_uri(uri)
        except (InstallLinkError, ManifestError) as exc:
            self._set_quietly(self.redirect_input, mask_text(self.redirect_input.value))
            self._error(exc)
            return
        self.redirect_input.value = ""
        self._show_redirects()
        self._edited()

    def _remove_redirect(self) -> None:
        uri = self.redirect_list.value
        if uri is None:
            self._status("Select a redirect URI to remove.", error=True)
            return
        self.manifest.remove_redirect_uri(uri)
        self._show_redirects()
        self._edited()

    def _add_permission(self) -> None:
        name = self.permission_choice.value
        if not name:
            self._status(
                "Choose an object and one of its permissions first, then click Add permission.",
                error=True,
            )
            return
        try:
            self.manifest.add_permission(name, self.permission_purpose.value.strip())
        except ManifestError as exc:
            self._error(exc)
            return
        self.permission_purpose.value = ""
        self._show_permissions()
        self._refresh()
        self._status(f"Added {name}.")

    def _remove_permission(self, name: str) -> None:
        self.manifest.remove_permission(name)
        self._show_permissions()
        self._edited()

    def _set_purpose(self, name: str, purpose: str) -> None:
        self.manifest.add_permission(name, purpose)
        self._edited()

    # --- display -----------------------------------------------------------------------------

    def _set_quietly(self, widget: w.ValueWidget, value: Any) -> None:
        self._loading = True
        try:
            widget.value = value
        finally:
            self._loading = False

    def _error(self, exc: BaseException) -> None:
        """Show an error from the core: titled, masked and escaped (:func:`._common.explain`)."""
        self.status.value = explain(exc)

    def _status(self, message: str, *, error: bool = False) -> None:
        """Show ``message`` (masked and escaped: it may quote what the user typed)."""
        self.status.value = status_html("error" if error else "done", safe_text(message))

    def _show_manifest(self) -> None:
        data = self.manifest.data
        self._loading = True
        try:
            for widget, key in (
                (self.id_text, "id"),
                (self.name_text, "name"),
                (self.version_text, "version"),
            ):
                value = data.get(key)
                widget.value = "" if value is None else str(value)
            for dropdown, key, options in (
                (self.access, "stripe_api_access_type", _ACCESS_TYPES),
                (self.distribution, "distribution_type", _DISTRIBUTIONS),
            ):
                value = data.get(key)
                dropdown.value = value if value in options else _NOT_SET
        finally:
            self._loading = False
        self._show_redirects()
        self._show_permissions()
        self._refresh()

    def _show_redirects(self) -> None:
        uris = tuple(self.manifest.redirect_uris)
        self.redirect_list.options = uris
        self.redirect_list.rows = max(4, len(uris))  # every URI visible, none behind a scroll

    def _show_permissions(self) -> None:
        rows = []
        for name, purpose in self.manifest.permissions.items():
            # As wide as the other boxes: a purpose is a sentence, and a cut one cannot be read.
            box = w.Text(
                value=purpose,
                placeholder="Why the app needs it",
                layout=w.Layout(width=TEXT_WIDTH),
            )
            box.add_class("som-manifest-permission-row-purpose")
            box.observe(lambda change, n=name: self._set_purpose(n, change["new"]), "value")
            remove = w.Button(description="Remove")
            remove.add_class("som-manifest-permission-row-remove")
            on_click(remove, functools.partial(self._remove_permission, name), self.status)
            row = w.HBox([w.Label(name, layout=w.Layout(width="16em")), box, remove])
            row.add_class("som-manifest-permission-row")
            rows.append(row)
        self.permission_rows.children = rows

    def _edited(self) -> None:
        """The person changed the manifest: the last action's message ("Added invoice_read") is
        old news, and must not stand beside a finding the change brought."""
        self.status.value = ""
        self._refresh()

    def _refresh(self) -> None:
        self.findings = check(self.manifest, base_dir=self._base_dir())
        self.findings_html.value = _findings_html(self.findings)
        self.preview.value = self.manifest.to_json()

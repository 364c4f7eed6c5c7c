"""Drive the consent page like a script would: GET it, read the form, POST a decision."""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import urljoin

from .._errors import SandboxError
from .._masking import mask_text

__all__ = ["approve"]


class _ConsentForm(HTMLParser):
    """The first POST form's action, hidden fields, selects and decision buttons."""

    def __init__(self) -> None:
        super().__init__()
        self.action: str | None = None
        self.fields: dict[str, str] = {}
        self.decisions: set[str] = set()
        self.error = ""
        self._in_form = False
        self._done = False
        self._select: str | None = None
        self._in_error = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "p" and "sandbox-error" in a.get("class", ""):
            self._in_error = True
        if tag == "form" and not self._done and a.get("method", "").lower() == "post":
            self._in_form, self.action = True, a.get("action", "")
        if not self._in_form:
            return
        if tag == "input" and a.get("type", "").lower() == "hidden" and a.get("name"):
            self.fields[a["name"]] = a.get("value", "")
        elif tag == "select" and a.get("name"):
            self._select = a["name"]
        elif (
            tag == "option"
            and self._select
            and (self._select not in self.fields or "selected" in a)
        ):
            self.fields[self._select] = a.get("value", "")
        elif tag == "button" and a.get("name") == "decision":
            self.decisions.add(a.get("value", ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "p":
            self._in_error = False
        elif tag == "select":
            self._select = None
        elif tag == "form" and self._in_form:
            self._in_form, self._done = False, True

    def handle_data(self, data: str) -> None:
        if self._in_error:
            self.error += data


def approve(
    install_url: str,
    *,
    decision: str = "accept",
    follow: bool = True,
    account: str | None = None,
    timeout: float = 5.0,
) -> str:
    """Answer the consent page at ``install_url``; return the redirect's Location.

    ``follow`` then GETs the Location (delivering the code to a callback server) and returns
    once it answers. Raises :class:`SandboxError` when the page refuses the link or the
    callback cannot be reached.
    """
    if decision not in ("accept", "deny"):
        raise SandboxError(f"decision must be 'accept' or 'deny', not {decision!r}.")
    from .._http import httpx  # the HTTP client only when a script drives the page

    with httpx.Client(timeout=timeout, trust_env=False, follow_redirects=False) as client:
        page = client.get(install_url)
        form = _ConsentForm()
        form.feed(page.text)
        if page.status_code != 200 or form.action is None:
            reason = form.error.strip() or f"HTTP {page.status_code}"
            raise SandboxError(
                f"The consent page refused the install link: {mask_text(reason)}. Build a new "
                "install link for an app registered with this sandbox (its client id and an "
                "allowed redirect URI) and approve that one."
            )
        if decision not in form.decisions:
            raise SandboxError(
                f"The consent page offers no {decision!r} button. Open the install link in a "
                "browser to see what the page says, or build a new install link."
            )
        fields = {**form.fields, "decision": decision}
        if account is not None:
            fields["account"] = account
        answer = client.post(urljoin(str(page.url), form.action), data=fields)
        location = answer.headers.get("location")
        if answer.status_code != 302 or not location:
            form = _ConsentForm()
            form.feed(answer.text)
            reason = form.error.strip() or f"HTTP {answer.status_code}"
            raise SandboxError(
                f"The consent form was refused: {mask_text(reason)}. Build a new install link "
                "(each link's form can be answered once) and approve that one."
            )
        if follow:
            try:
                client.get(location)
            except httpx.HTTPError as exc:
                raise SandboxError(
                    f"Could not deliver the redirect to {mask_text(location)} "
                    f"({type(exc).__name__}). Is the callback server running on that port?"
                ) from exc
        return location

"""Click a notebook's forms as a person would, inside the notebook's own kernel.

``tests/_notebook_run.py`` appends one cell to a notebook before running it; that cell imports
this module and calls :func:`drive` with the notebook's name and its globals. Each driver works
through its notebook's forms: first the way that works (build, approve the sandbox's consent
page, exchange, validate, ...), then every button again with the network failing (a fault
injected into the sandbox), with the tokens revoked (the sandbox forgets every token) and with
the sandbox stopped. Every click must end in the form: no traceback reaches the kernel's log, and
a failure shows as a titled, masked message (``widgets/_common.explain``).

Plain ``assert`` statements: a failed one fails the cell, so the test that ran the notebook.
"""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

#: A whole secret on screen: a prefix and more characters than masking leaves.
WHOLE_SECRET = re.compile(r"\b(?:(?:sk|rk|pk)_(?:test|live)|ac|rt)_[A-Za-z0-9]{12,}")
#: A titled error: an error status line (``explain``, or a report that failed), a bold title,
#: then the message.
TITLED_ERROR = re.compile(r"som-status-error.*?<b>([^<]{4,})</b>: (.{30,})", re.DOTALL)
WAIT = 30.0

Namespace = dict[str, Any]


class Clicker:
    """Clicks buttons and records what escaped their handlers (ipywidgets shows it as a
    traceback in the log console, where a person never looks)."""

    def __init__(self) -> None:
        from IPython import get_ipython

        self.shell = get_ipython()
        self.escaped: list[str] = []
        self.clicks = 0
        #: Every failure shown: "button (condition): title: message".
        self.shown: list[str] = []

    @contextmanager
    def watching(self) -> Iterator[None]:
        original = self.shell.showtraceback

        def record(*args: Any, **kwargs: Any) -> None:
            import sys
            import traceback

            self.escaped.append("".join(traceback.format_exception(*sys.exc_info())))

        self.shell.showtraceback = record
        try:
            yield
        finally:
            self.shell.showtraceback = original

    def click(self, button: Any, shown: Any | None = None) -> str:
        """Click ``button``; return the value of ``shown`` (an HTML widget) afterwards."""
        assert not button.disabled, f"{button.description!r} is disabled"
        before = len(self.escaped)
        with self.watching():
            button.click()
        self.clicks += 1
        assert len(self.escaped) == before, (
            f"{button.description!r} let an exception escape to the log console:\n"
            + "\n".join(self.escaped[before:])
        )
        value: str = shown.value if shown is not None else ""
        assert not WHOLE_SECRET.search(value), f"a whole secret on screen: {value}"
        return value

    def fails(self, button: Any, shown: Any, why: str) -> str:
        """Click ``button`` and expect a titled, masked failure in ``shown``; return its title."""
        value = self.click(button, shown)
        found = TITLED_ERROR.search(value)
        assert found, f"{button.description!r} ({why}): no titled error in the form: {value!r}"
        title, message = found.group(1), re.sub(r"<[^>]+>", "", found.group(2))
        self.shown.append(f"{button.description} ({why}): {title}: {' '.join(message.split())}")
        return title


def wait_for(check: Callable[[], bool], what: str, timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"still waiting after {timeout:.0f} s for {what}"
        time.sleep(0.05)


def _network_failing(sandbox: Any) -> None:
    """Every API and token request answers 503 until the sandbox is reset."""
    sandbox.inject_fault("*", "error", times=10_000, status=503)


def _revoke_everything(sandbox: Any) -> None:
    """The sandbox forgets every code and token (and the faults): stored tokens are refused."""
    sandbox.reset()


def _stop_sandbox(target: Any) -> None:
    """The sandbox stops answering; the token store and attempt log stay, as a configured
    store would (closing the target removes its temporary folder: it is put back here, and
    removed when the kernel ends)."""
    import atexit
    import shutil
    import tempfile

    folder = target.settings.token_store_path.parent
    kept = Path(tempfile.mkdtemp(prefix="som-driver-")) / "kept"
    shutil.copytree(folder, kept)
    target.close()
    assert not folder.exists(), "closing the target removes its token folder"
    shutil.copytree(kept, folder)
    shutil.rmtree(kept.parent)
    atexit.register(shutil.rmtree, folder, True)


def _fresh_code(target: Any, log: Any) -> Any:
    """A code for an exchange, through the real consent page and callback server."""
    from stripe_oauth_nb.oauth import start_authorization

    link, server = start_authorization(target.settings, log, allowed_redirect_uris=None)
    target.approve(link.url)
    return server.wait(WAIT)


# --------------------------------------------------------------------------- notebooks


def walkthrough(ns: Namespace, clicker: Clicker) -> list[str]:
    wt, flow, target = ns["wt"], ns["flow"], ns["target"]
    sandbox = target.sandbox
    assert ns["conn"].account_id, "the connect() cell ran"
    # connect() stored tokens further down the page: the walkthrough still starts at step 1.
    assert flow.steps()["manifest"] == "current", wt.status_line()
    form = wt.manifest_form
    assert flow.manifest_path.parent == Path.cwd(), "the manifest goes next to the notebook"
    clicker.click(form.register_button, form.status)
    assert "Registered" in form.status.value, form.status.value
    callback = wt.callback_form
    assert callback is not None, "registering unlocks the link step"
    clicker.click(callback.build_button, callback.status_html)
    assert "href=" in callback.link_html.value
    target.approve(callback.link.url)  # what pressing Accept in the new tab does
    wait_for(lambda: callback.status_kind == "received", "the code")
    # The status first, the link a moment later (the server's thread sets both).
    wait_for(lambda: "href=" not in callback.link_html.value, "the used link to stop being a link")
    wait_for(lambda: wt.tokens_panel is not None, "the tokens step to unlock")
    tokens = wt.tokens_panel
    clicker.click(tokens.exchange_button, tokens.status)
    assert "Exchanged" in tokens.status.value, tokens.status.value
    assert tokens.exchange_button.disabled, "a code works once"
    panel = wt.validate_panel
    assert panel is not None
    clicker.click(panel.run, panel.summary)
    assert "The access token works." in panel.summary.value, panel.summary.value
    clicker.click(panel.load, panel.preview)
    assert panel.frame is not None
    assert len(panel.frame) == 250
    clicker.click(tokens.refresh_button, tokens.status)
    assert "Refreshed" in tokens.status.value
    assert wt.status_line().count("✓") == 5, wt.status_line()

    titles: list[str] = []
    tokens.code = _fresh_code(target, flow.attempts)  # a code to exchange under each failure
    _network_failing(sandbox)
    titles.append(clicker.fails(tokens.exchange_button, tokens.status, "network failing"))
    titles.append(clicker.fails(tokens.refresh_button, tokens.status, "network failing"))
    titles.append(clicker.fails(panel.run, panel.summary, "network failing"))
    panel.load.disabled = False  # a person clicks Load all after an earlier success
    titles.append(clicker.fails(panel.load, panel.preview, "network failing"))
    _revoke_everything(sandbox)
    titles.append(clicker.fails(tokens.refresh_button, tokens.status, "token revoked"))
    titles.append(clicker.fails(panel.run, panel.summary, "token revoked"))
    panel.load.disabled = False
    titles.append(clicker.fails(panel.load, panel.preview, "token revoked"))
    titles += _callback_failures(callback, clicker)
    _stop_sandbox(target)
    titles.append(clicker.fails(form.register_button, form.status, "sandbox stopped"))
    titles.append(clicker.fails(panel.run, panel.summary, "sandbox stopped"))
    panel.load.disabled = False
    titles.append(clicker.fails(panel.load, panel.preview, "sandbox stopped"))
    titles.append(clicker.fails(tokens.refresh_button, tokens.status, "sandbox stopped"))
    titles += _manifest_failures(form, clicker)
    return titles


def manifest(ns: Namespace, clicker: Clicker) -> list[str]:
    form, target, app_dir = ns["form"], ns["target"], ns["app_dir"]
    clicker.click(form.save_button, form.status)
    assert "Saved" in form.status.value, form.status.value
    assert "stripe apps upload" in form.next_step.value
    form.permission_group.value = "Charge"
    assert form.permission_choice.value == "charge_read"
    form.permission_purpose.value = "Chart your charges."
    clicker.click(form.permission_add, form.status)
    assert "charge_read" in form.manifest.permissions
    clicker.click(form.register_button, form.status)
    assert "Registered Reports Sync with the sandbox" in form.status.value, form.status.value
    row_remove = form.permission_rows.children[-1].children[-1]
    clicker.click(row_remove, form.status)
    assert "charge_read" not in form.manifest.permissions
    clicker.click(form.new_button, form.status)
    assert "New manifest" in form.status.value
    form.open_file(app_dir / "stripe-app.json")
    assert form.manifest.data["name"] == "Reports Sync"

    titles: list[str] = []
    form.name_text.value = "Stripe Reports"  # a name Stripe refuses
    titles.append(clicker.fails(form.register_button, form.status, "manifest with errors"))
    form.name_text.value = "Reports Sync"
    _network_failing(target.sandbox)  # registering does not use the faulted endpoints
    clicker.click(form.register_button, form.status)
    assert "Registered" in form.status.value
    _stop_sandbox(target)
    titles.append(clicker.fails(form.register_button, form.status, "sandbox stopped"))
    titles += _manifest_failures(form, clicker)
    return titles


def _manifest_failures(form: Any, clicker: Clicker) -> list[str]:
    """The manifest form's local buttons, each given what a person might get wrong."""
    titles: list[str] = []
    saved_path = form.path_text.value
    form.path_text.value = str(Path(saved_path).parent / "no-such-folder" / "missing.json")
    titles.append(clicker.fails(form.open_button, form.status, "a file that does not exist"))
    form.path_text.value = str(Path(saved_path).parent)  # a folder, not a file
    titles.append(clicker.fails(form.save_button, form.status, "a folder as the file"))
    form.path_text.value = saved_path
    form.redirect_input.value = (
        "http://127.0.0.1:8765/callback?code=ac_EXAMPLEcode1234567890&state=x"
    )
    titles.append(clicker.fails(form.redirect_add, form.status, "a landed URL"))
    assert "EXAMPLEcode1234567890" not in form.redirect_input.value, "the pasted code stays"
    form.redirect_list.value = None
    value = clicker.click(form.redirect_remove, form.status)
    assert "Select a redirect URI" in value, value
    return titles


def _callback_failures(callback: Any, clicker: Clicker) -> list[str]:
    """Build link with its port taken; a pasted URL that is not a landed one."""
    titles: list[str] = []
    port = int(callback.redirect_input.value.split(":")[2].split("/")[0])
    callback.stop()
    with socket.socket() as taken:
        taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        taken.bind(("127.0.0.1", port))
        taken.listen()
        titles.append(clicker.fails(callback.build_button, callback.status_html, "port taken"))
    callback.paste_input.value = "not a URL at all"
    titles.append(clicker.fails(callback.paste_button, callback.status_html, "pasted garbage"))
    return titles


def install_link_and_callback(ns: Namespace, clicker: Clicker) -> list[str]:
    form, target = ns["form"], ns["target"]
    clicker.click(form.build_button, form.status_html)
    assert form.status_kind == "waiting"
    target.approve(form.link.url)
    wait_for(lambda: form.status_kind == "received", "the code")
    # The status first, then the link, then the countdown (the server's thread sets all three).
    wait_for(lambda: "href=" not in form.link_html.value, "the used link to stop being a link")
    wait_for(lambda: "exchange it for tokens within" in form.countdown_html.value, "the countdown")

    from stripe_oauth_nb.sandbox import approve

    clicker.click(form.build_button, form.status_html)
    landed = approve(form.link.url, follow=False)  # the browser could not reach the kernel
    form.paste_input.value = landed
    clicker.click(form.paste_button, form.status_html)
    assert form.status_kind == "received", form.status_html.value
    form.paste_input.value = landed  # pasted again: it is the code the form already has
    clicker.click(form.paste_button, form.status_html)
    assert form.status_kind == "received", form.status_html.value
    assert "already has" in form.status_html.value

    titles: list[str] = []
    clicker.click(form.build_button, form.status_html)
    approve(form.link.url, decision="deny")
    # The server's thread sets the kind, then the message: wait for both.
    wait_for(
        lambda: form.status_kind == "refused" and bool(TITLED_ERROR.search(form.status_html.value)),
        "the decline",
    )
    titles.append(TITLED_ERROR.search(form.status_html.value).group(1))  # type: ignore[union-attr]
    titles += _callback_failures(form, clicker)
    _stop_sandbox(target)
    clicker.click(form.build_button, form.status_html)  # local: works without the sandbox
    assert form.status_kind == "waiting", form.status_html.value
    form.stop()
    return titles


def tokens(ns: Namespace, clicker: Clicker) -> list[str]:
    panel, target, manager = ns["panel"], ns["target"], ns["manager"]
    sandbox = target.sandbox
    before = manager.get()
    clicker.click(panel.refresh_button, panel.status)
    assert "Refreshed" in panel.status.value, panel.status.value
    assert manager.get().refresh_token != before.refresh_token
    assert manager.get().access_token.masked in panel.status.value, "the new token is shown"
    panel.code = _fresh_code(target, manager.attempts)
    clicker.click(panel.exchange_button, panel.status)
    assert "Exchanged" in panel.status.value, panel.status.value

    titles: list[str] = []
    panel.code = _fresh_code(target, manager.attempts)
    _network_failing(sandbox)
    titles.append(clicker.fails(panel.exchange_button, panel.status, "network failing"))
    titles.append(clicker.fails(panel.refresh_button, panel.status, "network failing"))
    _revoke_everything(sandbox)
    titles.append(clicker.fails(panel.refresh_button, panel.status, "token revoked"))
    panel.code = _fresh_code(target, manager.attempts)
    _stop_sandbox(target)
    titles.append(clicker.fails(panel.exchange_button, panel.status, "sandbox stopped"))
    titles.append(clicker.fails(panel.refresh_button, panel.status, "sandbox stopped"))
    return titles


def validate_and_use(ns: Namespace, clicker: Clicker) -> list[str]:
    panel, target = ns["panel"], ns["target"]
    clicker.click(panel.run, panel.summary)
    assert "The access token works." in panel.summary.value, panel.summary.value
    assert panel.preview.value.count("<tr>") == 6, "a header and 5 rows"
    clicker.click(panel.load, panel.preview)
    assert panel.frame is not None
    assert len(panel.frame) == 1000

    titles: list[str] = []
    _network_failing(target.sandbox)
    titles.append(clicker.fails(panel.run, panel.summary, "network failing"))
    panel.load.disabled = False
    titles.append(clicker.fails(panel.load, panel.preview, "network failing"))
    _revoke_everything(target.sandbox)
    titles.append(clicker.fails(panel.run, panel.summary, "token revoked"))
    panel.load.disabled = False
    titles.append(clicker.fails(panel.load, panel.preview, "token revoked"))
    _stop_sandbox(target)
    titles.append(clicker.fails(panel.run, panel.summary, "sandbox stopped"))
    panel.load.disabled = False
    titles.append(clicker.fails(panel.load, panel.preview, "sandbox stopped"))
    return titles


def sql(ns: Namespace, clicker: Clicker) -> list[str]:
    """After Run All (the last cell has run): a day later, Sync loads what changed into every
    table, and the tables match the API."""
    panel, sb, installed = ns["panel"], ns["sb"], ns["installed"]
    ns["sb"].simulate(1)
    value = clicker.click(panel.run, panel.result)
    assert "Synced into duckdb:" in value, value
    report = panel.report
    assert report is not None
    assert report.ok, report.summary()
    tables = [n for r in ns["RESOURCES"] for n in (r.name, *r.child_tables)]
    assert sorted({t.table for t in report.tables}) == sorted(tables)
    import duckdb

    in_api = sb.counts(installed.account_id, "test")
    # every table the sandbox can count (a child table comes with its parent; balance is a snapshot)
    counted = [name for name in tables if name in in_api]
    assert len(counted) >= len(ns["RESOURCES"]) - 2, (counted, in_api)
    with duckdb.connect(str(ns["db"]), read_only=True) as con:
        in_tables = {
            name: con.execute(f"SELECT count(*) FROM {name}").fetchall()[0][0]  # noqa: S608
            for name in counted
        }
    assert in_tables == {name: in_api[name] for name in in_tables}, (in_tables, in_api)
    return []


DRIVERS: dict[str, Callable[[Namespace, Clicker], list[str]]] = {
    "00_walkthrough": walkthrough,
    "01_manifest": manifest,
    "02_install_link_and_callback": install_link_and_callback,
    "03_tokens": tokens,
    "04_validate_and_use": validate_and_use,
    "05_sql": sql,
}


def _short_retry_waits() -> None:
    """Retries wait milliseconds instead of seconds in this kernel: a failing click still goes
    through every retry before its form shows the failure, without ten seconds of sleep (how long
    the waits are is tested in ``tests/test_api_retry.py``)."""
    from stripe_oauth_nb.api._retry import RetryPolicy

    def backoff(self: RetryPolicy, retry: int) -> float:
        return 0.001 * (retry + 1)

    RetryPolicy.backoff = backoff  # type: ignore[method-assign]


def drive(name: str, ns: Namespace) -> None:
    """Drive notebook ``name``'s forms; print one line per failure shown (its title)."""
    _short_retry_waits()
    clicker = Clicker()
    titles = DRIVERS[name](ns, clicker)
    print(f"driven: {clicker.clicks} clicks, {len(titles)} failures shown in their forms")
    for title in titles:
        print(f"  shown: {title}")
    for line in clicker.shown:
        print(f"  - {line}")

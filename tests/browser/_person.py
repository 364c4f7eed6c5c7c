"""What a person sees in a notebook after Run All, as checks the browser tests share.

Open a notebook copied from ``notebooks/``, press Run All, then look at it as a person would:
tracebacks or cells that never ran, controls whose text is cut off, buttons that are not
buttons, links that lead nowhere, secrets in the page, two date formats side by side.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from . import _lab

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page

REPO_NOTEBOOKS = _lab.HERE.parent.parent / "notebooks"
NOTEBOOK_TIMEOUT = 120.0
#: Assertions wait this long (Playwright's default is 5 s): every step is a round trip through
#: the kernel, often with HTTP to the sandbox and an fsync'ed write, on a busy machine.
EXPECT_TIMEOUT_MS = 20_000
PLAYWRIGHT_DEFAULT_EXPECT_TIMEOUT_MS = 5_000
#: A whole secret in page text: a prefix followed by what masking would have cut away.
WHOLE_SECRET = re.compile(r"\b(?:rk_test|rk_live|rt|ac|sk_test|sk_live)_[A-Za-z0-9]{20,}")
#: What the notebooks write next to themselves (the server root is shared by the tests).
WRITTEN_NEXT_TO_NOTEBOOKS = ("stripe-app.json", "icon.png", "reports-sync")


def shot(page: Page, name: str, focus: Locator | None = None) -> Path:
    """Screenshot what a person sees, with ``focus`` scrolled into the notebook's view."""
    from playwright.sync_api import expect

    if focus is not None:
        focus.scroll_into_view_if_needed()
        expect(focus).to_be_in_viewport()
    # JupyterLab paints cells that scroll into view on a later frame: wait for two, and a bit.
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
    page.wait_for_timeout(200)
    path = _lab.screenshot(page, name)
    assert path.stat().st_size > 10_000, f"{path} looks blank"
    return path


def clipped_text(scope: Locator) -> list[str]:
    """Buttons, labels and text boxes in ``scope`` whose text is cut off ("Build link and l…",
    "…/stripe-app.js"): a person cannot read what the control does or holds."""
    found: list[str] = scope.evaluate_all(
        """(roots) => roots.flatMap(root => [...root.querySelectorAll(
              '.widget-button, .widget-label, .widget-button .widget-label-basic, '
              + '.widget-text input, .widget-password input')]
            .filter(el => el.offsetParent !== null && el.scrollWidth > el.clientWidth + 1)
            .map(el => (el.value || el.getAttribute('title') || el.textContent || '').trim()))"""
    )
    return found


def not_buttons(scope: Locator) -> list[str]:
    """Widget buttons in ``scope`` that assistive technology would not announce as buttons."""
    found: list[str] = scope.evaluate_all(
        """(roots) => roots.flatMap(root => [...root.querySelectorAll('.widget-button')]
            .filter(el => !(el.tagName === 'BUTTON' || el.getAttribute('role') === 'button'))
            .map(el => el.textContent.trim()))"""
    )
    return found


def date_formats(page: Page) -> dict[str, list[str]]:
    """The shapes of the dates in the forms' tables (digits as ``9``), with an example each;
    a time column holding bare Unix seconds counts as the shape ``unix seconds``."""
    found: dict[str, list[str]] = page.evaluate(
        """() => {
          const DATE = /\\d{4}-\\d{2}-\\d{2}[T ][\\d:]+(?:[+-]\\d{2}:?\\d{2}| ?UTC|Z)?/;
          const shapes = {};
          const add = (shape, text) => { (shapes[shape] = shapes[shape] || []).push(text); };
          for (const table of document.querySelectorAll('table[class^="som-"]')) {
            const headers = [...table.querySelectorAll('tr:first-child th')]
              .map(th => th.textContent.trim());
            for (const row of table.querySelectorAll('tr')) {
              [...row.children].forEach((cell, i) => {
                const text = cell.textContent.trim();
                const name = row.children.length === 2 ? row.children[0].textContent.trim()
                                                       : (headers[i] || '');
                const date = text.match(DATE);
                if (date) add(date[0].replace(/\\d/g, '9'), date[0]);
                else if (/^(created|.*_at|.*expires.*)$/i.test(name) && /^\\d{9,}$/.test(text))
                  add('unix seconds', text);
              });
            }
          }
          return shapes;
        }"""
    )
    return found


def no_whole_secrets(page: Page) -> None:
    # The whole document, not inner_text(): JupyterLab skips rendering cells scrolled out of
    # view (content-visibility), and inner_text() leaves those out.
    found = WHOLE_SECRET.findall(page.content())
    assert found == [], f"unmasked secret(s) in the page: {found}"


def run_all_problems(page: Page) -> list[str]:
    """What a person sees go wrong after Run All: tracebacks, stderr, cells that never ran."""
    problems = [
        "traceback: " + text.strip().splitlines()[-1]
        for text in page.locator(
            "[data-mime-type='application/vnd.jupyter.stderr']"
        ).all_text_contents()
    ]
    prompts = page.locator(".jp-CodeCell .jp-InputArea-prompt").all_text_contents()
    assert prompts, "no code cells found"
    not_run = [t for t in prompts if not re.fullmatch(r"\[\d+\]:", t)]
    if not_run:
        problems.append(f"{len(not_run)} of {len(prompts)} code cells not executed by Run All")
    return problems


def screen_problems(page: Page, scope: Locator) -> list[str]:
    """Cut text and buttons without their role in ``scope``, one line each."""
    return [f"text cut off: {t!r}" for t in clipped_text(scope)] + [
        f"not a button: {t!r}" for t in not_buttons(scope)
    ]


def open_and_run_all(page: Page, lab: _lab.LabServer, notebook: str, name: str) -> None:
    """Copy ``notebooks/<notebook>`` into the server root as ``name`` (without what an earlier
    test's run wrote next to it), open it, Run All, wait until every cell has run."""
    from playwright.sync_api import expect

    for leftover in WRITTEN_NEXT_TO_NOTEBOOKS:
        path = lab.root_dir / leftover
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)
    shutil.copytree(REPO_NOTEBOOKS / "data", lab.root_dir / "data", dirs_exist_ok=True)
    lab.copy_notebook(REPO_NOTEBOOKS / notebook, name)
    _lab.open_notebook(page, lab, name, timeout=NOTEBOOK_TIMEOUT, reset_workspace=True)
    _lab.run_all(page)
    _lab.wait_idle(page, NOTEBOOK_TIMEOUT, name=name)
    expect(page.get_by_text("Loading widget")).to_have_count(0)
    expect(page.get_by_text("Error displaying widget")).to_have_count(0)


def accept_in_new_tab(page: Page, link: Locator, app_name: str | None = None) -> None:
    """Click the install ``link``, press Accept on the sandbox's consent page in the tab it
    opens, see the callback server's answer there, and close the tab."""
    from playwright.sync_api import expect

    with page.context.expect_page() as opened:
        link.click()
    consent = opened.value
    consent.wait_for_load_state("domcontentloaded")
    expect(consent.locator(".sandbox-banner")).to_contain_text("Stripe sandbox")
    if app_name is not None:
        expect(consent.locator(".sandbox-app-name")).to_have_text(app_name)
    consent.locator("#sandbox-accept").click()
    expect(consent.locator("h1")).to_have_text("Authorization received")
    consent.close()
    page.bring_to_front()

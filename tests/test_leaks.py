"""Checklist item 23: executed notebooks and DEBUG logs hold no secret, in any common encoding.

Every ``notebooks/*.ipynb`` runs in a fresh kernel of this environment with DEBUG logging on for
everything (root, ``stripe_oauth_nb``, ``httpx2``, ``httpcore2``, ``uvicorn``, ``stripe``) into a
file, and then its forms are clicked as a person would, failures included
(``tests/_notebook_run.py``: one run per notebook, shared with
``tests/test_notebooks_driven.py``). The notebooks
start their own sandboxes with random keys; the sandbox's test-only hook
(``STRIPE_OAUTH_NB_SANDBOX_SECRETS_FILE``, see ``stripe_oauth_nb/sandbox/_secrets_log.py``) writes
down every secret key, authorization code, access token and refresh token it mints, so the search
is for those exact values (pattern scanners miss keys inside notebook JSON), in raw, JSON-escaped,
URL-encoded and base64 form (HTTP Basic auth is ``base64(key + ":")``), including base64
substrings that match wherever the secret sits in the encoded stream. Hits are reported by kind,
encoding and place, with the secret masked.

A negative control plants a fake secret in each encoding and shows the detector finds it.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import nbformat
import pytest
from _notebook_run import NOTEBOOKS, NOTEBOOKS_DIR, Run

from stripe_oauth_nb._masking import mask
from stripe_oauth_nb.sandbox._secrets_log import SECRETS_FILE_ENV

#: nbformat's functions are untyped; call them through ``Any``.
NBF: Any = nbformat

#: Secret kinds by prefix (what the sandbox mints).
KINDS: dict[str, str] = {
    "sk_test_": "secret key",
    "sk_live_": "secret key",
    "ac_": "authorization code",
    "rk_test_": "access token",
    "rk_live_": "access token",
    "rt_": "refresh token",
}
#: Prefixes the whole run must have seen at least once, else the search proves nothing.
REQUIRED_PREFIXES = ("sk_test_", "ac_", "rk_", "rt_")

# --- the detector ------------------------------------------------------------------------------


def kind_of(secret: str) -> str:
    for prefix, kind in KINDS.items():
        if secret.startswith(prefix):
            return kind
    return "secret"


def _b64_aligned(data: bytes, offset: int, *, urlsafe: bool = False) -> str:
    """The base64 characters that encode only ``data`` when it starts ``offset`` bytes into a
    3-byte group of a longer stream (whatever comes before and after it)."""
    encode = base64.urlsafe_b64encode if urlsafe else base64.b64encode
    text = encode(b"\0" * offset + data).decode("ascii").rstrip("=")
    start = {0: 0, 1: 2, 2: 3}[offset]  # characters that mix in the bytes before
    end = len(text) - (1 if (offset + len(data)) % 3 else 0)  # a final partial character
    return text[start:end]


def encodings(secret: str) -> dict[str, str]:
    """Every form of ``secret`` to search for, by name (values may coincide)."""
    raw = secret.encode()
    forms = {
        "raw": secret,
        "JSON-escaped": json.dumps(secret, ensure_ascii=False)[1:-1],
        "JSON-escaped (ASCII)": json.dumps(secret)[1:-1],
        "URL-encoded (quote)": quote(secret),
        "URL-encoded (quote, safe='')": quote(secret, safe=""),
        "URL-encoded (quote_plus)": quote_plus(secret),
        "base64(secret)": base64.b64encode(raw).decode(),
        "base64(secret + ':')": base64.b64encode(raw + b":").decode(),
    }
    for offset in range(3):
        forms[f"base64 substring at offset {offset}"] = _b64_aligned(raw, offset)
        forms[f"base64url substring at offset {offset}"] = _b64_aligned(raw, offset, urlsafe=True)
    return forms


@dataclass(frozen=True)
class Hit:
    kind: str
    masked: str
    encodings: tuple[str, ...]  # the forms that coincide with what was found
    where: str
    line: int
    excerpt: str

    def __str__(self) -> str:
        return (
            f"{self.kind} {self.masked} ({' = '.join(self.encodings)}) in {self.where}, "
            f"line {self.line}: "
            f"{self.excerpt}"
        )


def find_secrets(text: str, secrets: list[str], where: str) -> list[Hit]:
    """Every occurrence of every secret, in every form, in ``text``; excerpts are redacted."""
    forms: list[tuple[str, tuple[str, ...], str]] = []
    for secret in secrets:
        names_by_value: dict[str, list[str]] = {}
        for name, value in encodings(secret).items():
            names_by_value.setdefault(value, []).append(name)
        forms += [(secret, tuple(names), value) for value, names in names_by_value.items()]
    redactions = sorted(
        {(value, f"<{names[0]}:{mask(s)}>") for s, names, value in forms},
        key=lambda r: -len(r[0]),
    )
    hits: list[Hit] = []
    for secret, names, value in forms:
        start = text.find(value)
        while start != -1:
            line_start = text.rfind("\n", 0, start) + 1
            line_end = text.find("\n", start)
            line = text[line_start : line_end if line_end != -1 else len(text)]
            for found, replacement in redactions:
                line = line.replace(found, replacement)
            hits.append(
                Hit(
                    kind=kind_of(secret),
                    masked=mask(secret),
                    encodings=names,
                    where=where,
                    line=text.count("\n", 0, start) + 1,
                    excerpt=line.strip()[:300],
                )
            )
            start = text.find(value, start + 1)
    return hits


def _strings(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield key
            yield from _strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from _strings(item)


def find_in_notebook(text: str, secrets: list[str], name: str) -> list[Hit]:
    """Search a saved notebook as file text, and as decoded strings cell by cell (so a secret
    is found in its own encoding, whatever escaping the JSON file adds on top)."""
    hits = find_secrets(text, secrets, f"{name} (file text)")
    document = json.loads(text)
    for index, cell in enumerate(document.get("cells", [])):
        decoded = "\n".join(_strings(cell))
        hits += find_secrets(decoded, secrets, f"{name} cell {index} (decoded strings)")
    rest = {k: v for k, v in document.items() if k != "cells"}
    hits += find_secrets("\n".join(_strings(rest)), secrets, f"{name} metadata (decoded strings)")
    return hits


# --- tests -------------------------------------------------------------------------------------


def test_notebooks_found() -> None:
    assert len(NOTEBOOKS) >= 4, f"expected notebooks in {NOTEBOOKS_DIR}"


@pytest.mark.slow
@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_no_secret_in_saved_notebook_or_debug_log(
    notebook: Path, notebook_run: Callable[[Path], Run]
) -> None:
    run = notebook_run(notebook)
    saved = run.saved.read_text(encoding="utf-8")
    log = run.log.read_text(encoding="utf-8") if run.log.exists() else ""
    hits = find_in_notebook(saved, run.secrets, f"saved {notebook.name}")
    hits += find_secrets(log, run.secrets, "DEBUG log")
    assert not hits, f"{len(hits)} secret occurrence(s):\n" + "\n".join(map(str, hits))
    if run.error is not None:
        reason = re.sub(r"\x1b\[[0-9;]*m", "", run.error)
        pytest.fail(f"{notebook.name} stopped early (no leak in what ran):\n{reason}", False)
    assert run.secrets, (
        f"{notebook.name} minted no secret (is {SECRETS_FILE_ENV} reaching the kernel, and does "
        "the notebook start a Sandbox?): the search would prove nothing"
    )
    # httpx2's own logger writes INFO (one line per request); DEBUG comes from its transport.
    assert re.search(r"DEBUG \[httpcore2\.", log), "no DEBUG record from httpcore2: logging off?"
    assert "[httpx2]" in log, "no record from the httpx2 logger: logging off?"


@pytest.mark.slow
def test_notebooks_mint_every_kind_of_secret(notebook_run: Callable[[Path], Run]) -> None:
    """Across all notebooks the search covered keys, codes, access and refresh tokens."""
    seen = [s for notebook in NOTEBOOKS for s in notebook_run(notebook).secrets]
    missing = [p for p in REQUIRED_PREFIXES if not any(s.startswith(p) for s in seen)]
    assert not missing, f"no notebook minted a secret starting {missing}: the search is vacuous"


# --- negative control: the detector can fail ---------------------------------------------------

FAKE_SECRETS = [
    "sk_test_" + "Zq9" * 11 + "x",  # the sandbox's alphabet
    'rt_fake"secret/with+odd chars&é',  # every encoding differs from the raw form
]


@pytest.mark.parametrize("secret", FAKE_SECRETS, ids=["alnum", "odd-characters"])
@pytest.mark.parametrize("encoding", list(encodings(FAKE_SECRETS[0])))
def test_detector_finds_a_planted_secret(secret: str, encoding: str, tmp_path: Path) -> None:
    planted = encodings(secret)[encoding]
    wrapped = f"Authorization: Basic {planted}" if "base64" in encoding else f"x={planted}&y"
    nb = NBF.v4.new_notebook()
    cell = NBF.v4.new_code_cell("print(value)")
    cell.outputs = [NBF.v4.new_output("stream", name="stdout", text=wrapped + "\n")]
    nb.cells.append(cell)
    path = tmp_path / "planted.ipynb"
    NBF.write(nb, path)

    in_notebook = find_in_notebook(path.read_text(encoding="utf-8"), [secret], "planted.ipynb")
    assert any(encoding in h.encodings for h in in_notebook), f"{encoding} form not found"
    in_log = find_secrets(f"DEBUG [x] {wrapped}\n", [secret], "log")
    assert any(encoding in h.encodings for h in in_log), f"{encoding} form not found"
    for hit in in_notebook + in_log:
        assert planted not in str(hit), "a report must show the secret masked"
        assert secret not in str(hit), "a report must show the secret masked"


def test_detector_finds_a_base64_basic_header_at_any_alignment() -> None:
    secret = FAKE_SECRETS[0]
    for pad in ("", "a", "ab", "abc"):
        header = base64.b64encode(f"{pad}{secret}:".encode()).decode()
        assert find_secrets(header, [secret], "header"), f"missed behind {len(pad)} bytes"


def test_detector_ignores_the_masked_form() -> None:
    secret = FAKE_SECRETS[0]
    text = json.dumps({"text": f"key {mask(secret)} {secret[:10]}… {secret[-4:]}"})
    assert find_secrets(text, [secret], "clean") == []

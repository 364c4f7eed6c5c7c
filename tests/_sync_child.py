"""A sync in a child process (for the kill tests): prints each progress step as it happens.

python _sync_child.py API_BASE SECRET_KEY CLIENT_ID STORE DB WORK
"""

from __future__ import annotations

import sys
from pathlib import Path

from stripe_oauth_nb._masking import Secret
from stripe_oauth_nb._settings import ModeCredentials, Settings
from stripe_oauth_nb.sync import Progress, sync
from stripe_oauth_nb.tokens import FileTokenStore, TokenManager


def main() -> None:
    api_base, secret_key, client_id, store, db, work = sys.argv[1:7]
    settings = Settings(
        target="sandbox",
        mode="test",
        api_base=api_base,
        marketplace_base=api_base,
        test=ModeCredentials("test", Secret(secret_key), client_id),
        token_store_path=Path(store),
    )

    def progress(step: Progress) -> None:
        print(f"{step.stage} {step.table} {step.rows}", flush=True)

    with TokenManager(settings, FileTokenStore(Path(store))) as tokens:
        report = sync(settings, tokens, db=db, work_dir=work, progress=progress)
    print("done" if report.ok else report.summary(), flush=True)


if __name__ == "__main__":
    main()

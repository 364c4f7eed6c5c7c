"""A sync in a child process (for the kill tests): prints each progress step as it happens.

python _sync_child.py API_BASE SECRET_KEY CLIENT_ID STORE DB WORK [DSN]

With a DSN: every stored account into PostgreSQL (one of several processes sharing it); each
step's line ends with its account, and the last line is the report as JSON.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from stripe_oauth_nb._masking import Secret
from stripe_oauth_nb._settings import ModeCredentials, Settings
from stripe_oauth_nb.sync import Progress, sync
from stripe_oauth_nb.tokens import FileTokenStore, TokenManager


def main() -> None:
    api_base, secret_key, client_id, store, db, work = sys.argv[1:7]
    dsn = sys.argv[7] if len(sys.argv) > 7 else None
    settings = Settings(
        target="sandbox",
        mode="test",
        api_base=api_base,
        marketplace_base=api_base,
        test=ModeCredentials("test", Secret(secret_key), client_id),
        token_store_path=Path(store),
    )

    def progress(step: Progress) -> None:
        where = f" {step.account_id}" if dsn else ""
        print(f"{step.stage} {step.table} {step.rows}{where}", flush=True)

    with TokenManager(settings, FileTokenStore(Path(store))) as tokens:
        if dsn:
            report = sync(
                settings,
                tokens,
                destination="postgres",
                dsn=dsn,
                accounts="all",
                work_dir=work,
                parallel=2,
                progress=progress,
            )
            print(json.dumps(report.to_dict()), flush=True)
            return
        report = sync(settings, tokens, db=db, work_dir=work, progress=progress)
    print("done" if report.ok else report.summary(), flush=True)


if __name__ == "__main__":
    main()

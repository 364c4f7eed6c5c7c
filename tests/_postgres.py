"""A real, throw-away PostgreSQL server for the tests (Debian's ``postgresql`` package).

``PostgresServer`` runs ``initdb`` and ``pg_ctl`` in a temporary folder, listening on
``127.0.0.1`` and a free port, with password authentication (``scram-sha-256``) so that a bad
password is a real refusal. PostgreSQL refuses to run as root: when the tests run as root the
folder is given to the ``postgres`` user (created by the Debian package) and every server
command runs as that user through ``runuser``.

Use the session fixture ``postgres`` (``tests/conftest.py``); each test that needs a clean
database calls ``postgres.create_database()`` and connects with the DSN it returns.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Sequence
from pathlib import Path

from _ports import free_port

__all__ = ["PostgresServer", "PostgresUnavailable", "find_bin_dir"]

SUPERUSER = "som_admin"
#: Made up for a throw-away server on loopback; never a real credential.
PASSWORD = "EXAMPLE-pg-password"
INSTALL_HINT = "apt-get install -y postgresql"
_NEEDED = ("initdb", "pg_ctl", "postgres", "psql", "pg_dump")


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server binaries here (or no user that may run them)."""


def find_bin_dir() -> Path:
    """Where ``initdb``, ``pg_ctl`` and the rest are: PATH, then Debian's versioned dirs."""
    found = shutil.which("pg_ctl")
    candidates = [Path(found).parent] if found else []
    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
    for folder in candidates:
        if all((folder / name).exists() for name in _NEEDED):
            return folder
    raise PostgresUnavailable(f"PostgreSQL server binaries not found: {INSTALL_HINT}")


class PostgresServer:
    """One ``postgres`` process in its own data folder; :meth:`stop` removes everything."""

    def __init__(self) -> None:
        self.bin_dir = find_bin_dir()
        self.root = Path(tempfile.mkdtemp(prefix="som-pg-"))
        self.data_dir = self.root / "data"
        self.socket_dir = self.root / "run"
        self.log_path = self.root / "server.log"
        self.port = free_port()
        self.host = "127.0.0.1"
        self._run_as: str | None = None
        if os.geteuid() == 0:
            try:
                pwd.getpwnam("postgres")
            except KeyError:
                raise PostgresUnavailable(
                    "Running as root and there is no 'postgres' user to run the server as: "
                    + INSTALL_HINT
                ) from None
            self._run_as = "postgres"
        self.socket_dir.mkdir()
        self.root.chmod(0o755)
        if self._run_as is not None:
            shutil.chown(self.root, self._run_as)
            shutil.chown(self.socket_dir, self._run_as)
        self._initdb()

    # -- commands ------------------------------------------------------------------------
    def _cmd(self, *args: str) -> list[str]:
        command = [str(self.bin_dir / args[0]), *args[1:]]
        if self._run_as is not None:
            return ["runuser", "-u", self._run_as, "--", *command]
        return command

    def _run(self, *args: str, timeout: float = 120.0) -> None:
        result = subprocess.run(
            self._cmd(*args), capture_output=True, text=True, timeout=timeout, cwd=self.root
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"{' '.join(args[:2])} failed ({result.returncode}):\n{result.stdout}\n"
                f"{result.stderr}\n{self.log_tail()}"
            )

    def _initdb(self) -> None:
        pwfile = self.root / "pwfile"
        pwfile.write_text(PASSWORD + "\n")
        if self._run_as is not None:
            shutil.chown(pwfile, self._run_as)
        self._run(
            "initdb",
            "-D",
            str(self.data_dir),
            "-U",
            SUPERUSER,
            "--pwfile",
            str(pwfile),
            "--auth=scram-sha-256",
            "--encoding=UTF8",
            "--no-locale",
            "--no-sync",
        )
        pwfile.unlink()

    def start(self) -> PostgresServer:
        options = (
            f"-p {self.port} -k {self.socket_dir} -c listen_addresses={self.host} "
            "-c fsync=off -c full_page_writes=off -c synchronous_commit=off "
            "-c max_connections=200"
        )
        self._run(
            "pg_ctl", "-D", str(self.data_dir), "-l", str(self.log_path), "-w", "-t", "60",
            "-o", options, "start",
        )  # fmt: skip
        return self

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (``immediate`` is a crash, as a power cut would be)."""
        with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
            self._run("pg_ctl", "-D", str(self.data_dir), "-m", mode, "-w", "stop", timeout=60)

    def restart(self, mode: str = "fast") -> None:
        self.stop(mode)
        self.start()

    def remove(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)

    # -- databases -----------------------------------------------------------------------
    def dsn(self, database: str = "postgres", *, password: str = PASSWORD) -> str:
        return (
            f"postgresql://{SUPERUSER}:{password}@{self.host}:{self.port}/{database}"
            "?connect_timeout=10"
        )

    def psql(self, sql: str, database: str = "postgres") -> str:
        """Run ``sql`` with ``psql`` as the superuser; its output (unaligned, tuples only)."""
        env = {**os.environ, "PGPASSWORD": PASSWORD}
        result = subprocess.run(
            [str(self.bin_dir / "psql"), "-h", self.host, "-p", str(self.port), "-U", SUPERUSER,
             "-d", database, "-v", "ON_ERROR_STOP=1", "-At", "-c", sql],
            capture_output=True, text=True, timeout=60, env=env,
        )  # fmt: skip
        if result.returncode != 0:
            raise RuntimeError(f"psql failed: {result.stderr}")
        return result.stdout

    def create_database(self, name: str | None = None) -> str:
        """A new empty database; returns its DSN."""
        name = name or f"som_{uuid.uuid4().hex[:12]}"
        self.psql(f'CREATE DATABASE "{name}"')
        return self.dsn(name)

    def dump(self, database: str, args: Sequence[str] = ()) -> str:
        """``pg_dump`` of ``database`` as text (what a backup would hold)."""
        env = {**os.environ, "PGPASSWORD": PASSWORD}
        result = subprocess.run(
            [str(self.bin_dir / "pg_dump"), "-h", self.host, "-p", str(self.port), "-U",
             SUPERUSER, *args, database],
            capture_output=True, text=True, timeout=120, env=env,
        )  # fmt: skip
        if result.returncode != 0:
            raise RuntimeError(f"pg_dump failed: {result.stderr}")
        return result.stdout

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text().splitlines()[-lines:])
        except OSError:
            return "(no server log)"

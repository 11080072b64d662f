"""A throwaway pgbouncer in front of a :class:`TempServer`, for the pooler tests: its own ini in
a temporary directory, ``trust`` authentication for the users named, a pool of ``pool_size``
server connections a (database, user) in ``pool_mode`` (``transaction`` or ``session``).
As root it runs as the postgres OS user (pgbouncer refuses root, as PostgreSQL does)."""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

from ._server import ServerError, TempServer, _free_port


def pgbouncer_binary() -> str | None:
    """The pgbouncer executable (Debian's is in /usr/sbin), or None when it is not installed."""
    return shutil.which("pgbouncer") or next(
        (path for path in ("/usr/sbin/pgbouncer", "/usr/bin/pgbouncer") if Path(path).is_file()), None
    )


class TempPgbouncer:
    """pgbouncer on loopback in front of ``server``, alive as long as this object's ``with`` block."""

    host = "127.0.0.1"

    def __init__(
        self, server: TempServer, pool_mode: str, pool_size: int = 4, users: Sequence[str] = ("postgres",)
    ) -> None:
        self.server = server
        self.pool_mode = pool_mode
        self.pool_size = pool_size
        self.users = list(users)
        self.port = 0
        self._dir: Path | None = None
        self._process: subprocess.Popen[bytes] | None = None

    def conninfo(self, dbname: str, user: str = "postgres") -> str:
        """libpq connection string for ``dbname`` through the pooler."""
        return f"host={self.host} port={self.port} user={user} dbname={dbname}"

    def __enter__(self) -> TempPgbouncer:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def start(self) -> None:
        binary = pgbouncer_binary()
        if binary is None:
            raise ServerError("pgbouncer is not installed (Debian: apt-get install pgbouncer)")
        self._dir = Path(tempfile.mkdtemp(prefix="loyaltydb-pgbouncer-"))
        os_user = "postgres" if os.geteuid() == 0 else None
        if os_user is not None:
            account = pwd.getpwnam(os_user)
            os.chown(self._dir, account.pw_uid, account.pw_gid)
        self.port = _free_port()
        (self._dir / "users.txt").write_text("".join(f'"{user}" ""\n' for user in self.users))
        (self._dir / "pgbouncer.ini").write_text(
            "[databases]\n"
            f"* = host={self.server.host} port={self.server.port}\n"
            "[pgbouncer]\n"
            f"listen_addr = {self.host}\nlisten_port = {self.port}\nunix_socket_dir =\n"
            f"auth_type = trust\nauth_file = {self._dir / 'users.txt'}\n"
            f"pool_mode = {self.pool_mode}\ndefault_pool_size = {self.pool_size}\nmax_client_conn = 200\n"
            f"logfile = {self._dir / 'pgbouncer.log'}\npidfile = {self._dir / 'pgbouncer.pid'}\n"
            "ignore_startup_parameters = extra_float_digits,options\n"
        )
        if os_user is not None:
            for path in self._dir.iterdir():
                os.chown(path, account.pw_uid, account.pw_gid)
        self._process = subprocess.Popen(
            [binary, str(self._dir / "pgbouncer.ini")],
            user=os_user,
            group=os_user,
            extra_groups=[] if os_user else None,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection((self.host, self.port), timeout=0.5):
                    return
            except OSError:
                if self._process.poll() is not None:
                    break
                time.sleep(0.05)
        log = self._dir / "pgbouncer.log"
        detail = log.read_text().strip().splitlines()[-1:] if log.exists() else []
        self.stop()
        raise ServerError(f"pgbouncer did not start: {detail[0] if detail else 'no log'}")

    def stop(self) -> None:
        """Stop pgbouncer and delete its files; safe to call twice."""
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

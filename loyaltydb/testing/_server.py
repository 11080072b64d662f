"""A throwaway PostgreSQL server for tests, the demo and the benchmarks.

``initdb`` into a temporary directory, start on a free loopback port, stop and delete on
exit. PostgreSQL refuses to run as root, so as root the server runs as the ``postgres``
OS user; as anyone else it runs as that user.
"""

from __future__ import annotations

import atexit
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType


class ServerError(RuntimeError):
    """A throwaway PostgreSQL server could not be set up or started (tooling, not the product:
    not a ``LoyaltyError``)."""


#: Settings that make a disposable test server fast; never use them for data you keep.
FAST_UNSAFE_SETTINGS: Mapping[str, str] = {
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
}
SUPERUSER = "postgres"


def find_bindir() -> Path:
    """PostgreSQL's server binaries: ``$LOYALTYDB_PG_BINDIR``, Debian's newest, else PATH."""
    candidates: list[Path] = []
    if os.environ.get("LOYALTYDB_PG_BINDIR"):
        chosen = Path(os.environ["LOYALTYDB_PG_BINDIR"])
        # Asked for by name: a wrong one is an error, never a quiet fall-back to another version.
        if not ((chosen / "initdb").is_file() and (chosen / "pg_ctl").is_file()):
            raise ServerError(f"LOYALTYDB_PG_BINDIR={chosen} has no initdb and pg_ctl (PostgreSQL's server binaries)")
        return chosen
    debian = Path("/usr/lib/postgresql").glob("*/bin")
    candidates += sorted(
        debian, key=lambda path: int(path.parent.name) if path.parent.name.isdigit() else 0, reverse=True
    )
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(Path(on_path).parent)
    for bindir in candidates:
        if (bindir / "initdb").is_file() and (bindir / "pg_ctl").is_file():
            return bindir
    raise ServerError("PostgreSQL server binaries (initdb, pg_ctl) not found; set LOYALTYDB_PG_BINDIR")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class TempServer:
    """A PostgreSQL cluster that lives as long as this object's ``with`` block."""

    host = "127.0.0.1"
    user = SUPERUSER

    def __init__(self, settings: Mapping[str, str] | None = None) -> None:
        self.settings = dict(settings or {})
        self.bindir = find_bindir()
        self.port = 0
        self._root: Path | None = None
        self._os_user = SUPERUSER if os.geteuid() == 0 else None

    def conninfo(self, dbname: str = "postgres") -> str:
        """libpq connection string for ``dbname`` on this server."""
        return f"host={self.host} port={self.port} user={self.user} dbname={dbname}"

    @property
    def data_dir(self) -> Path:
        if self._root is None:
            raise ServerError("the server is not started")
        return self._root / "data"

    def __enter__(self) -> TempServer:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def start(self) -> None:
        """Create the cluster and start it; raises ``ServerError`` with initdb's words."""
        self._root = Path(tempfile.mkdtemp(prefix="loyaltydb-pg-"))
        atexit.register(self.stop)
        if self._os_user is not None:
            try:
                account = pwd.getpwnam(self._os_user)
            except KeyError:
                raise ServerError("running as root needs a 'postgres' OS user to run PostgreSQL") from None
            os.chown(self._root, account.pw_uid, account.pw_gid)
        self._initdb()
        for _ in range(5):  # another process may take the free port before we bind it
            self.port = _free_port()
            if self._pg_ctl_start():
                return
        raise ServerError(f"PostgreSQL did not start; see {self._root / 'server.log'}")

    def stop(self) -> None:
        """Stop the server (fast shutdown) and delete its files; safe to call twice."""
        if self._root is None:
            return
        root, self._root = self._root, None
        atexit.unregister(self.stop)
        if (root / "data" / "postmaster.pid").exists():
            self._run(["pg_ctl", "stop", "-D", str(root / "data"), "-m", "fast", "-w"], check=False)
        shutil.rmtree(root, ignore_errors=True)

    def restart(self, mode: str = "fast") -> None:
        """Stop (``fast`` or ``immediate``) and start again on the same port and data."""
        self._run(["pg_ctl", "stop", "-D", str(self.data_dir), "-m", mode, "-w"])
        if not self._pg_ctl_start():
            raise ServerError("PostgreSQL did not restart")

    @contextmanager
    def stopped(self) -> Iterator[None]:
        """The server down for the ``with`` block (a fast shutdown), up again after it on the same
        port and data: a node that is unreachable for a while."""
        self._run(["pg_ctl", "stop", "-D", str(self.data_dir), "-m", "fast", "-w"])
        try:
            yield
        finally:
            if not self._pg_ctl_start():
                raise ServerError("PostgreSQL did not start again")

    def _initdb(self) -> None:
        base = ["initdb", "-D", str(self.data_dir), "-U", SUPERUSER, "--auth=trust", "--encoding=UTF8"]
        # C.UTF-8 makes initcap() and friends Unicode-aware; not every system has it.
        if self._run([*base, "--locale=C.UTF-8"], check=False).returncode != 0:
            shutil.rmtree(self.data_dir, ignore_errors=True)
            self._run([*base, "--no-locale"])
        settings = {
            "listen_addresses": f"'{self.host}'",
            "unix_socket_directories": f"'{self._root}'",
            "max_connections": "200",
            **{name: f"'{value}'" for name, value in self.settings.items()},
        }
        with (self.data_dir / "postgresql.conf").open("a", encoding="utf-8") as conf:
            conf.write("\n# loyaltydb throwaway server\n")
            conf.writelines(f"{name} = {value}\n" for name, value in settings.items())

    def _pg_ctl_start(self) -> bool:
        log = str(self.data_dir.parent / "server.log")
        args = ["pg_ctl", "start", "-D", str(self.data_dir), "-w", "-t", "60", "-l", log, "-o", f"-p {self.port}"]
        return self._run(args, check=False).returncode == 0

    def _run(self, args: Sequence[str], check: bool = True) -> subprocess.CompletedProcess[str]:
        command = [str(self.bindir / args[0]), *args[1:]]
        # The server's own outbound connections (Citus between nodes) read ~/.postgresql: as
        # root that must be the postgres user's home, not /root.
        environment = dict(os.environ)
        if self._os_user is not None:
            environment["HOME"] = pwd.getpwnam(self._os_user).pw_dir
        completed = subprocess.run(
            command,
            cwd=self._root,
            env=environment,
            user=self._os_user,
            group=self._os_user,
            extra_groups=[] if self._os_user else None,
            capture_output=True,
            text=True,
            check=False,
        )
        if check and completed.returncode != 0:
            detail = (completed.stderr or completed.stdout).strip().splitlines()
            raise ServerError(f"{args[0]} failed: {detail[-1] if detail else completed.returncode}")
        return completed

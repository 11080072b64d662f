"""A throwaway Citus cluster: a coordinator and workers, each a ``TempServer`` on loopback.

Each node loads Citus (``shared_preload_libraries``); ``TempCluster.create_database``
creates a database on every node, creates the extension there and joins the workers to the
coordinator (``citus_set_coordinator_host``, ``citus_add_node``). Citus connects between
nodes as the current user: the nodes trust loopback connections, as the single server does.
"""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

import psycopg

from ._server import ServerError, TempServer

CITUS_SETTINGS: Mapping[str, str] = {
    "shared_preload_libraries": "citus",
    # Workers and coordinator each run on this machine's 2 cores: keep the pools small.
    "max_connections": "200",
    "citus.max_adaptive_executor_pool_size": "4",
    # Loopback only, no certificates: the nodes talk in plain text, as clients do here.
    "citus.node_conninfo": "sslmode=disable",
}


def citus_available(bindir: Path) -> bool:
    """True when the PostgreSQL of ``bindir`` has the Citus extension installed."""
    pg_config = bindir / "pg_config"
    if pg_config.is_file():
        libdir = subprocess.run([str(pg_config), "--pkglibdir"], capture_output=True, text=True, check=False)
        if libdir.returncode == 0:
            return (Path(libdir.stdout.strip()) / "citus.so").is_file()
    return (bindir.parent / "lib" / "citus.so").is_file()


class TempCluster:
    """A coordinator and ``workers`` workers, alive as long as this object's ``with`` block."""

    def __init__(self, workers: int = 2, settings: Mapping[str, str] | None = None) -> None:
        merged = {**CITUS_SETTINGS, **(settings or {})}
        self.coordinator = TempServer(settings=merged)
        self.workers = [TempServer(settings=merged) for _ in range(workers)]

    @property
    def nodes(self) -> list[TempServer]:
        return [self.coordinator, *self.workers]

    def conninfo(self, dbname: str = "postgres") -> str:
        """Connection string of ``dbname`` on the coordinator, where clients connect."""
        return self.coordinator.conninfo(dbname)

    def __enter__(self) -> TempCluster:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def start(self) -> None:
        started: list[TempServer] = []
        try:
            for node in self.nodes:
                node.start()
                started.append(node)
        except BaseException:
            for node in started:
                node.stop()
            raise

    def stop(self) -> None:
        for node in reversed(self.nodes):
            node.stop()

    def create_database(self, dbname: str) -> str:
        """``dbname`` on every node with Citus in it, workers joined; its coordinator conninfo."""
        for node in self.nodes:
            with psycopg.connect(node.conninfo(), autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{dbname}"')
            with psycopg.connect(node.conninfo(dbname), autocommit=True) as conn:
                conn.execute("CREATE EXTENSION citus")
        with psycopg.connect(self.conninfo(dbname), autocommit=True) as conn:
            conn.execute("SELECT citus_set_coordinator_host(%s, %s)", (self.coordinator.host, self.coordinator.port))
            for worker in self.workers:
                conn.execute("SELECT citus_add_node(%s, %s)", (worker.host, worker.port))
            nodes = conn.execute("SELECT count(*) FROM pg_dist_node WHERE isactive").fetchone()
        if not nodes or nodes[0] != len(self.nodes):
            raise ServerError(f"Citus cluster for {dbname}: {nodes} active nodes, wanted {len(self.nodes)}")
        return self.conninfo(dbname)

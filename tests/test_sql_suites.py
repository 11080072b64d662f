"""SQL-level suites run from pytest: pgTAP (pg_prove) for DBAs, and concurrency specs for
PostgreSQL's own isolation tester (pg_isolation_regress), each against a migrated clone."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import psycopg
import pytest

from loyaltydb.testing import TempServer

HERE = Path(__file__).parent
ISOLATION_DIR = HERE / "isolation"
SPECS = sorted(path.stem for path in (ISOLATION_DIR / "specs").glob("*.spec"))


def _require(found: object, what: str) -> None:
    if not found:
        message = f"{what} is not installed"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


def _params(db: psycopg.Connection[Any]) -> dict[str, str]:
    return db.info.get_parameters()


def test_pgtap_suite(db: psycopg.Connection[Any]) -> None:
    pg_prove = shutil.which("pg_prove")
    extension = db.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'pgtap'").fetchone()
    _require(extension and pg_prove, "pgTAP (Debian: postgresql-15-pgtap, with pg_prove)")
    assert pg_prove is not None
    db.execute("CREATE EXTENSION pgtap")
    db.commit()
    params = _params(db)
    completed = subprocess.run(
        [pg_prove, "--host", params["host"], "--port", params["port"], "--username", params["user"],
         "--dbname", params["dbname"], *sorted(str(p) for p in (HERE / "pgtap").glob("*.sql"))],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "All tests successful" in completed.stdout


def isolation_regress(pg_server: TempServer) -> Path:
    return pg_server.bindir.parent / "lib" / "pgxs" / "src" / "test" / "isolation" / "pg_isolation_regress"


def test_isolation_specs(db: psycopg.Connection[Any], pg_server: TempServer, tmp_path: Path) -> None:
    runner = isolation_regress(pg_server)
    _require(runner.is_file(), "pg_isolation_regress (Debian: postgresql-15)")
    assert len(SPECS) >= 6
    params = _params(db)
    completed = subprocess.run(
        [str(runner), "--use-existing", "--dbname", params["dbname"], "--host", params["host"],
         "--port", params["port"], "--user", params["user"], f"--inputdir={ISOLATION_DIR}",
         f"--outputdir={tmp_path}", *SPECS],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    diffs = tmp_path / "regression.diffs"
    assert completed.returncode == 0, completed.stdout + (diffs.read_text() if diffs.exists() else completed.stderr)

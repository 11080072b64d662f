"""loyaltydb.testing: the pytest plugin a service uses to test its own code against the real
procedures. The sample service test in docs/python.md runs here, in a pytest of its own."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MARKER = "<!-- sample service test: tests/test_testing_kit.py runs it -->"


def _sample_from_readme() -> str:
    readme = (ROOT / "docs" / "python.md").read_text(encoding="utf-8")
    found = re.search(re.escape(MARKER) + r"\s*```python\n(.*?)```", readme, re.DOTALL)
    assert found, "the sample service test in docs/python.md is missing"
    return found.group(1)


def _pytest(directory: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """A pytest run of a service's own, outside this project (no ini of ours applies)."""
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args, str(directory)],
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture
def service(tmp_path: Path) -> Path:
    (tmp_path / "test_signup.py").write_text(_sample_from_readme(), encoding="utf-8")
    return tmp_path


def test_the_readme_sample_service_test_passes_with_the_plugin(service: Path) -> None:
    completed = _pytest(service, "--loyaltydb")
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert re.search(r"\b2 passed\b", completed.stdout), completed.stdout


def test_the_plugin_is_off_unless_asked_for(service: Path) -> None:
    completed = _pytest(service)
    assert completed.returncode != 0
    assert "the loyaltydb pytest plugin is off: switch it on with `pytest --loyaltydb`" in completed.stdout


APP_ROLE_TEST = """
import psycopg
import pytest
import loyaltydb


def test_the_app_login_calls_the_api_and_may_not_write_tables(loyaltydb_conn, loyaltydb_app_conn):
    loyaltydb_conn.execute("INSERT INTO loyalty.users (id, name) VALUES (7, 'Bean There Coffee'), (32, 'John')")
    program = loyaltydb_conn.execute(
        "INSERT INTO loyalty.loyalty_programs (business_id, name) VALUES (7, 'Coffee Club') RETURNING id"
    ).fetchone()[0]
    loyaltydb_conn.commit()
    request_id = loyaltydb.request_enrollment(loyaltydb_app_conn, 32, program)
    assert loyaltydb.approve_enrollment(loyaltydb_app_conn, request_id).status == "APPROVED"
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        loyaltydb_app_conn.execute("INSERT INTO loyalty.users (id, name) VALUES (99, 'Mallory')")
"""


def test_the_app_role_fixture_meets_the_production_privileges(tmp_path: Path) -> None:
    (tmp_path / "test_app.py").write_text(APP_ROLE_TEST, encoding="utf-8")
    completed = _pytest(tmp_path, "--loyaltydb")
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert re.search(r"\b1 passed\b", completed.stdout), completed.stdout


ASYNC_MARKER = "<!-- async service test: tests/test_testing_kit.py runs it -->"


def _async_sample() -> str:
    text = (ROOT / "docs" / "python.md").read_text(encoding="utf-8")
    found = re.search(re.escape(ASYNC_MARKER) + r"\s*```python\n(.*?)```", text, re.DOTALL)
    assert found, "the async service test in docs/python.md is missing"
    return found.group(1)


def test_the_documented_async_service_test_passes_with_the_async_fixtures(tmp_path: Path) -> None:
    (tmp_path / "test_async_signup.py").write_text(_async_sample(), encoding="utf-8")
    completed = _pytest(tmp_path, "--loyaltydb")
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert re.search(r"\b1 passed\b", completed.stdout), completed.stdout


def test_without_pytest_asyncio_the_async_fixtures_say_how_to_get_it(tmp_path: Path) -> None:
    """pytest-asyncio hidden from the run: the plugin loads its stand-ins, and a test asking for
    an async fixture fails with the sentence."""
    (tmp_path / "test_needs_async.py").write_text(
        "def test_it(loyaltydb_aconn):\n    pass\n",
        encoding="utf-8",
    )
    hide = tmp_path / "hide"
    hide.mkdir()
    # A finder ahead of the others that says "no such module", as a missing package would
    # (--assert=plain: pytest's rewriting finder, ahead of it, would find the plugin anyway).
    (hide / "sitecustomize.py").write_text(
        "import sys\n"
        "class Hide:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.partition('.')[0] == 'pytest_asyncio':\n"
        "            raise ModuleNotFoundError(name)\n"
        "sys.meta_path.insert(0, Hide())\n",
        encoding="utf-8",
    )
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:asyncio",
            "--assert=plain",
            "--loyaltydb",
            str(tmp_path / "test_needs_async.py"),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(hide)},
    )
    assert completed.returncode != 0
    assert "the async fixtures need pytest-asyncio" in completed.stdout, completed.stdout

"""loyaltydb.testing: the pytest plugin a service uses to test its own code against the real
procedures. The sample service test in docs/python.md runs here, in a pytest of its own."""

from __future__ import annotations

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
    assert "fixture 'loyaltydb_conn' not found" in completed.stdout

"""The README is a front door whose quickstart works when pasted; the SQL reference covers every
function a caller may run. (`make docs` builds the site with warnings as errors; `make test`
runs it.)"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
MARKER = "<!-- python quickstart: tests/test_docs.py runs it -->"


def _python_quickstart() -> str:
    found = re.search(re.escape(MARKER) + r"\s*```python\n(.*?)```", README.read_text(encoding="utf-8"), re.DOTALL)
    assert found, "the README's Python quickstart is missing"
    return found.group(1)


def test_the_site_home_page_has_the_readme_quickstart() -> None:
    """docs/index.md shows the README's tested quickstart, word for word (so it runs too)."""
    home = (ROOT / "docs" / "index.md").read_text(encoding="utf-8")
    found = re.search(re.escape(MARKER) + r"\s*```python\n(.*?)```", home, re.DOTALL)
    assert found is not None and found.group(1) == _python_quickstart()


def test_the_readme_is_a_front_door() -> None:
    text = README.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 250
    assert "make demo" in text and "make test" in text


def test_the_readme_python_quickstart_runs_on_a_fresh_migrated_database(dsn: str, tmp_path: Path) -> None:
    code = _python_quickstart()
    assert 'DSN = "postgresql://admin@db/loyalty"' in code
    script = tmp_path / "quickstart.py"
    script.write_text(code.replace('"postgresql://admin@db/loyalty"', repr(dsn)), encoding="utf-8")
    completed = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120, check=False)
    assert completed.returncode == 0, completed.stderr
    first, second = completed.stdout.splitlines()
    assert first == "APPROVED 9000000003200012 True"
    assert second == "9000000003200012 Coffee Club Bean There Coffee"
    with psycopg.connect(dsn) as conn:
        row = conn.execute("SELECT name FROM loyalty.customers WHERE id = 32").fetchone()
    assert row == ("John Smith",)


def test_the_sql_reference_names_every_function_a_caller_may_run(db: psycopg.Connection[Any]) -> None:
    reference = (ROOT / "docs" / "sql.md").read_text(encoding="utf-8")
    api = db.execute(
        "SELECT p.proname, pg_catalog.pg_get_function_identity_arguments(p.oid) FROM pg_catalog.pg_proc AS p"
        " WHERE p.pronamespace = 'loyalty'::regnamespace AND has_function_privilege('loyalty_app', p.oid, 'EXECUTE')"
    ).fetchall()
    assert api
    missing = [f"{name}({args})" for name, args in api if f"### `loyalty.{name}({args})`" not in reference]
    assert not missing, f"docs/sql.md has no section for {missing}"


def test_the_contract_page_says_what_is_implemented_of_every_section() -> None:
    """docs/contract.md's status box names every "## " section of the contract below it, so a
    section added to the contract cannot go unmentioned (issue 30: the box had gone stale)."""
    page = (ROOT / "docs" / "contract.md").read_text(encoding="utf-8")
    box, contract = page.split("\nWhat other services", 1)
    sections = re.findall(r"^## (.+)$", contract, flags=re.MULTILINE)
    assert len(sections) >= 15
    for section in sections:
        assert f"| {section} |" in box, f"the status box does not say what of {section!r} is implemented"


def test_the_python_reference_shows_no_sphinx_markup_and_no_private_module() -> None:
    """The reference page renders docstrings as Markdown (mkdocstrings): a Sphinx role such as
    :func:`x` would show raw, and a private module's name is no place a user can go."""
    import importlib
    import inspect

    page = (ROOT / "docs" / "reference" / "python.md").read_text(encoding="utf-8")
    modules = re.findall(r"^::: ([\w.]+)$", page, flags=re.MULTILINE)
    assert len(modules) >= 8
    bad = []
    for name in modules:
        module = importlib.import_module(name)
        public = getattr(module, "__all__", [n for n in dir(module) if not n.startswith("_")])
        members = [module, *(getattr(module, n) for n in public if not inspect.ismodule(getattr(module, n)))]
        for member in members:
            doc = inspect.getdoc(member) or ""
            ours = getattr(member, "__module__", name).startswith("loyaltydb") or member is module
            if ours and (re.search(r":(func|mod|class|data|meth):`", doc) or re.search(r"loyaltydb\._\w", doc)):
                bad.append(f"{name}.{getattr(member, '__name__', member)}")
    assert bad == []

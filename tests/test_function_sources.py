"""sql/functions/<area>/ is the one editable source of every SQL function: it must say exactly
what the migrations define (tools/function_sources.py compares them in a migrated database)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

import function_sources
import new_migration


def test_every_source_file_defines_only_its_own_name() -> None:
    problems = [problem for path in function_sources.source_files() for problem in function_sources.check_source(path)]
    assert not problems


def test_every_source_is_in_an_area_and_no_name_is_in_two(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert function_sources.misplaced_sources() == []
    assert len(function_sources.source_files()) > 100  # the areas' files are all found
    (tmp_path / "points").mkdir()
    (tmp_path / "rewards").mkdir()
    for where in ("points/_check_points.sql", "rewards/_check_points.sql", "stray.sql"):
        (tmp_path / where).write_text("")
    monkeypatch.setattr(function_sources, "FUNCTIONS_DIR", tmp_path)
    monkeypatch.setattr(function_sources, "ROOT", tmp_path)
    assert function_sources.misplaced_sources() == [
        "stray.sql: move it into an area folder",
        "rewards/_check_points.sql: points/_check_points.sql has that name already",
    ]


def test_the_sources_are_the_newest_definitions_in_the_migrations(dsn: str) -> None:
    """Running every source over a migrated database changes no function and adds none, and
    every function of the database has a source file."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        found = function_sources.drift(conn)
    assert not found.changed, f"sources differ from the migrations (`make migration NAME=…`): {sorted(found.changed)}"
    assert not found.added, f"sources define functions no migration has: {sorted(found.added)}"
    assert not found.unsourced, f"functions with no file in sql/functions/<area>/: {sorted(found.unsourced)}"


def _edited(tmp_path: Path, name: str, old: str, new: str) -> list[Path]:
    """The source files with one of them edited (a copy in tmp_path)."""
    files = []
    for path in function_sources.source_files():
        if path.stem == name:
            text = path.read_text()
            assert old in text
            copy = tmp_path / path.name
            copy.write_text(text.replace(old, new))
            files.append(copy)
        else:
            files.append(path)
    return files


def test_an_edited_source_is_drift(dsn: str, tmp_path: Path) -> None:
    """The notification's title lives in one function: editing it is one changed function."""
    files = _edited(tmp_path, "_card_created_title", "'Your %s card is ready'", "'Your %s card is here'")
    with psycopg.connect(dsn, autocommit=True) as conn:
        found = function_sources.drift(conn, files)
    assert list(found.changed) == ["loyalty._card_created_title(text)"] and not found.added


def test_a_missing_source_is_drift(dsn: str) -> None:
    files = [path for path in function_sources.source_files() if path.stem != "_trim_space"]
    with psycopg.connect(dsn, autocommit=True) as conn:
        found = function_sources.drift(conn, files)
    assert list(found.unsourced) == ["loyalty._trim_space(text)"]


def test_the_generated_pair_applies_and_rolls_back(dsn: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The tool's pair: with no source changed, no function in it; with one text edited, the
    forward gives the new source and the rollback exactly the old definitions."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        before = function_sources.catalog(conn)
        forward, rollback = new_migration.render("9999_probe", "0001_schema", conn)
        assert "FUNCTION" not in forward.split("-- Table DDL", 1)[1] and "FUNCTION" not in rollback

        edited = _edited(tmp_path, "_display_name", "'Customer'", "'Member'")
        monkeypatch.setattr(function_sources, "source_files", lambda: edited)
        forward, rollback = new_migration.render("9999_probe", "0001_schema", conn)
        assert "-- depends: 0001_schema" in forward
        assert "'Member'" in forward and "'Member'" not in rollback
        conn.execute(forward)
        assert "'Member'" in function_sources.catalog(conn)["loyalty._display_name(bigint,text,text,text)"]
        conn.execute(rollback)
        assert function_sources.catalog(conn) == before


def test_make_migration_refuses_a_bad_name() -> None:
    completed = subprocess.run(
        [sys.executable, "tools/new_migration.py", "Bad-Name"],
        cwd=function_sources.ROOT,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": "tools", "PATH": "/usr/bin:/bin"},
        check=False,
    )
    assert completed.returncode == 2 and "snake_case" in completed.stderr

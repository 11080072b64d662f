"""The plugin's async fixtures, loaded with the others when pytest-asyncio is installed (it runs
async fixtures and tests; the ``loyaltydb[testing]`` extra brings it). Mark a test
``@pytest.mark.asyncio``, or set ``asyncio_mode = "auto"``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import psycopg
import pytest_asyncio


@pytest_asyncio.fixture
async def loyaltydb_aconn(loyaltydb_dsn: str) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
    """An async connection to this test's database, closed after the test (as the superuser)."""
    async with await psycopg.AsyncConnection.connect(loyaltydb_dsn) as conn:
        yield conn


@pytest_asyncio.fixture
async def loyaltydb_app_aconn(loyaltydb_app_dsn: str) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
    """An async connection to this test's database as the app role, closed after the test."""
    async with await psycopg.AsyncConnection.connect(loyaltydb_app_dsn) as conn:
        yield conn

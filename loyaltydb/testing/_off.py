"""Stand-ins for the plugin's fixtures while it is off (or, for the async ones, while
pytest-asyncio is missing): a test that asks for one fails saying how to get it, rather than
with pytest's "fixture not found"."""

from __future__ import annotations

from typing import Any

import pytest

OFF = (
    "the loyaltydb pytest plugin is off: switch it on with `pytest --loyaltydb`, or"
    " `loyaltydb = true` in your pytest configuration (it needs the loyaltydb[testing] extra)"
)
NO_ASYNC = "the async fixtures need pytest-asyncio: `pip install 'loyaltydb[testing]'` brings it"
NAMES = (
    "loyaltydb_server",
    "loyaltydb_template",
    "loyaltydb_dsn",
    "loyaltydb_conn",
    "loyaltydb_app_role",
    "loyaltydb_app_dsn",
    "loyaltydb_app_conn",
)
ASYNC_NAMES = ("loyaltydb_aconn", "loyaltydb_app_aconn")


def stand_in(name: str, reason: str) -> Any:
    """A fixture called ``name`` that fails the test that asks for it, giving ``reason``."""

    def fixture() -> None:
        pytest.fail(f"fixture {name!r}: {reason}", pytrace=False)

    fixture.__name__ = name
    return pytest.fixture(name=name)(fixture)


globals().update({name: stand_in(name, OFF) for name in NAMES + ASYNC_NAMES})

"""Stand-ins for the plugin's fixtures while it is off: a test that asks for one fails with how
to switch the plugin on, rather than pytest's "fixture not found"."""

from __future__ import annotations

from typing import Any

import pytest

OFF = (
    "the loyaltydb pytest plugin is off: switch it on with `pytest --loyaltydb`, or"
    " `loyaltydb = true` in your pytest configuration (it needs the loyaltydb[testing] extra)"
)
NAMES = (
    "loyaltydb_server",
    "loyaltydb_template",
    "loyaltydb_dsn",
    "loyaltydb_conn",
    "loyaltydb_app_role",
    "loyaltydb_app_dsn",
    "loyaltydb_app_conn",
)


def _stand_in(name: str) -> Any:
    def fixture() -> None:
        pytest.fail(f"fixture {name!r}: {OFF}", pytrace=False)

    fixture.__name__ = name
    return pytest.fixture(name=name)(fixture)


globals().update({name: _stand_in(name) for name in NAMES})

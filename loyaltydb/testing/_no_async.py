"""Stand-ins for the async fixtures when the plugin is on but pytest-asyncio is not installed."""

from __future__ import annotations

from ._off import ASYNC_NAMES, NO_ASYNC, stand_in

globals().update({name: stand_in(name, NO_ASYNC) for name in ASYNC_NAMES})

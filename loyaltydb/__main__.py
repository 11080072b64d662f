"""``python -m loyaltydb``: the same as the ``loyaltydb`` command."""

import sys

from .cli import main

sys.exit(main())

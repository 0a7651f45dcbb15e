"""``python -m atp`` runs the ``atp`` command."""

import sys

from atp.cli import main

sys.exit(main())

"""`python -m edge_build export ...` (same as the `edge-encoders` script)."""

import sys

from edge_build.cli import main

sys.exit(main())

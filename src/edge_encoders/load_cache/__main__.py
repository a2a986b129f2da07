"""`python -m edge_encoders.load_cache <bundle>...` (the image build's step).

The command lives here, not in the package module: `edge_encoders` imports the package module at its own
import (bundle loading uses it), so running that module as __main__ would execute a second copy of it, which
runpy warns about on every build.
"""

import sys

from edge_encoders.load_cache import main

sys.exit(main())

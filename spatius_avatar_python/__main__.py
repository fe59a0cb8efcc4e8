"""`python -m spatius_avatar_python <command>`: the developer command line."""

import sys

from .cli import main

sys.exit(main())

"""python -m kg_builder: the cmvrr command line, for environments without the console script."""

import sys

from .commands.cli import main

sys.exit(main())

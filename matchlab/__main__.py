"""``python -m matchlab`` is the ``matchlab`` command."""

import sys

from matchlab.cli import main

sys.exit(main())

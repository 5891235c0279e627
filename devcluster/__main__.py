"""`python -m devcluster ACTION`: the dev cluster's command (devcluster.cli)."""

import sys

from devcluster.cli import main

sys.exit(main())

"""Labels and names shared by the Jobs the operator builds and the parser that reads them."""

from __future__ import annotations

DOMAIN = "labelpilot.dev"
LABEL_JOB = f"{DOMAIN}/job"
LABEL_STEP = f"{DOMAIN}/step"
LABEL_ITERATION = f"{DOMAIN}/iteration"
# the round of a human step that polls the workforce again (0: the first Job)
LABEL_POLL = f"{DOMAIN}/poll"
CONTAINER = "worker"
TERMINATION_LOG = "/dev/termination-log"

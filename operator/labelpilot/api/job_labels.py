"""The labels on a LabelingJob's step Jobs and their Pods: the operator selects a job's
Jobs by them and reads from them which step, iteration and polling round each one runs."""

from __future__ import annotations

from labelpilot.api.crd import GROUP

LABEL_JOB = f"{GROUP}/job"
LABEL_STEP = f"{GROUP}/step"
LABEL_ITERATION = f"{GROUP}/iteration"
# the round of a human step that polls the workforce again (0: the first Job)
LABEL_POLL = f"{GROUP}/poll"

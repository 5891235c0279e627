"""The control plane: the operator that reconciles LabelingJobs into step Jobs.

It reads the LabelingJob API (labelpilot.api) and writes batch/v1 Jobs and status; it never
reads a workspace nor imports the engine (docs/architecture.md). Importing this package
registers the kopf handlers, so `kopf run -m labelpilot.controller` runs the operator.
"""

from labelpilot.controller import handlers as handlers

"""Human labeling behind one interface: submit a batch, poll it, collect the answers.

Providers keep no state between calls: everything needed to find a batch again (its id and
the provider's handle) is returned by `submit` and recorded by the `human` step in the
workspace, so a rerun of the step finds the same batch instead of paying for it twice.
"""

from __future__ import annotations

from labelpilot.api.run_config import RunConfig
from labelpilot.workforce.base import Answer, BatchStatus, TaskItem, WorkforceProvider
from labelpilot.workforce.consolidation import consolidate

__all__ = ["Answer", "BatchStatus", "TaskItem", "WorkforceProvider", "consolidate", "provider_for"]


def provider_for(config: RunConfig, manifest_base: str | None = None) -> WorkforceProvider:
    """The job's provider; `manifest_base` resolves relative `source-ref`s."""
    if config.workforce.label_studio is not None:
        from labelpilot.workforce.labelstudio.provider import LabelStudioWorkforce

        return LabelStudioWorkforce.for_run(config, manifest_base)
    if config.workforce.simulated is not None:
        from labelpilot.workforce.simulated import SimulatedWorkforce

        return SimulatedWorkforce(
            config.workforce.simulated,
            config.task_type,
            config.label_attribute_name,
            config.labels,
            seed=config.seed,
        )
    raise ValueError("no workforce provider configured")

"""kstatus conditions (Ready, Reconciling, Stalled, Succeeded, Failed) for each phase."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from labelpilot.api.status import Condition, ConditionStatus, ConditionType, Phase

T, F = ConditionStatus.TRUE, ConditionStatus.FALSE
ORDER = (
    ConditionType.READY,
    ConditionType.RECONCILING,
    ConditionType.STALLED,
    ConditionType.SUCCEEDED,
    ConditionType.FAILED,
)


@dataclass(frozen=True)
class Outcome:
    """Why the job is where it is: a CamelCase reason and a sentence."""

    reason: str
    message: str


def reason_word(text: str | None, default: str) -> str:
    """A valid condition reason (CamelCase word) made from `text`."""
    if not text:
        return default
    word = re.sub(r"[^A-Za-z0-9_,:]", "", text)[:1024].rstrip(",:")
    return word if word and word[0].isalpha() else default


def desired(phase: Phase, outcome: Outcome) -> dict[ConditionType, tuple[ConditionStatus, str]]:
    """Each condition's status and reason in `phase` (the message is the outcome's).

    kstatus (what Flux and other GitOps tools judge a resource with) reads Reconciling=True
    as InProgress, then Stalled=True as Failed, then Ready=False as InProgress: a job at
    rest as its spec asks, Completed or Stopped by `spec.suspend`, is Ready, or a tool that
    waits for it never stops waiting."""
    r = outcome.reason
    table: dict[Phase, tuple[ConditionStatus, ...]] = {
        #                     Ready Reconciling Stalled Succeeded Failed
        Phase.INITIALIZING: (F, T, F, F, F),
        Phase.IN_PROGRESS: (F, T, F, F, F),
        Phase.STOPPING: (F, T, F, F, F),
        Phase.STOPPED: (T, F, F, F, F),
        Phase.COMPLETED: (T, F, F, T, F),
        Phase.FAILED: (F, F, T, F, T),
    }
    return {kind: (status, r) for kind, status in zip(ORDER, table[phase], strict=True)}


def merge(
    old: list[Condition], phase: Phase, outcome: Outcome, now: datetime, generation: int | None
) -> list[Condition]:
    """The new conditions; lastTransitionTime moves only when a condition's status does."""
    previous = {c.type: c for c in old}
    result = []
    for kind, (status, reason) in desired(phase, outcome).items():
        before = previous.get(kind)
        changed = before is None or before.status != status
        result.append(
            Condition(
                type=kind,
                status=status,
                reason=reason,
                message=outcome.message[:32768],
                last_transition_time=now
                if changed or before is None
                else before.last_transition_time,
                observed_generation=generation,
            )
        )
    return result


def stalled(
    old: list[Condition], outcome: Outcome, now: datetime, generation: int | None
) -> list[Condition]:
    """The conditions of a job the operator cannot move (e.g. the API refused a request):
    Stalled True, Ready and Reconciling False, Succeeded and Failed as they were. The next
    reconcile that gets through derives the conditions from the phase again."""
    previous = {c.type: c for c in old}
    wanted = {ConditionType.READY: F, ConditionType.RECONCILING: F, ConditionType.STALLED: T}
    result = []
    for kind in ORDER:
        before = previous.get(kind)
        if kind not in wanted:
            if before is not None:
                result.append(before)
            continue
        status = wanted[kind]
        changed = before is None or before.status != status
        result.append(
            Condition(
                type=kind,
                status=status,
                reason=outcome.reason,
                message=outcome.message[:32768],
                last_transition_time=now
                if changed or before is None
                else before.last_transition_time,
                observed_generation=generation,
            )
        )
    return result

"""What a LabelingJob may use: the cluster admin's allow-list (docs/security.md).

Whoever may create a LabelingJob has the operator create Pods for them, with the
operator's rights. So a job may name only the images, ServiceAccounts, Secrets, claims,
Label Studio URLs and taint keys the admin allowed, may replace a step's command only when
the admin allows commands, and may ask for no longer a step deadline than the admin's
maximum. The chart's ValidatingAdmissionPolicy refuses such a job when it is created; the
operator checks the same rules before it creates each step Job (`Policy.check`), for
clusters without the admission policy and for jobs created before a rule changed.

An allow-list entry is a name; one ending in `*` is a prefix (`registry.example.com/ml/*`,
`*` alone allows anything). A Label Studio URL entry also allows the paths below it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

from labelpilot.api.spec import LabelingJobSpec, StepResources
from labelpilot.api.steps import Step
from labelpilot.controller.profiles import ProfileError

DEFAULT_CLAIM = "labelpilot-data"
GPU_TAINT = "nvidia.com/gpu"
# A step Job that runs longer fails (activeDeadlineSeconds): a hung step holds its node,
# and its GPU, no longer than this. A human step waits 20 s for answers; a simulated
# workforce may take up to an hour per batch.
DEFAULT_DEADLINES: dict[Step, int] = {
    Step.PREPARE: 6 * 3600,
    Step.HUMAN: 2 * 3600,
    Step.TRAIN: 24 * 3600,
    Step.INFER: 12 * 3600,
    Step.THRESHOLD: 2 * 3600,
    Step.EXPORT: 6 * 3600,
}
DEFAULT_MAX_DEADLINE = 7 * 24 * 3600


class PolicyError(ProfileError):
    """The job uses something the cluster's policy does not allow (a ProfileError: the
    reconciler fails such a job, and a spec edit tries again)."""

    reason = "NotAllowed"


@dataclass(frozen=True)
class Patterns:
    """Allowed names: exact ones, and prefixes (entries that ended in `*`)."""

    exact: frozenset[str] = frozenset()
    prefixes: tuple[str, ...] = ()

    @classmethod
    def of(cls, entries: Iterable[str]) -> Patterns:
        entries = list(entries)
        return cls(
            frozenset(e for e in entries if not e.endswith("*")),
            tuple(e[:-1] for e in entries if e.endswith("*")),
        )

    @classmethod
    def of_urls(cls, entries: Iterable[str]) -> Patterns:
        """URL entries: without `*`, the URL itself (with or without a trailing slash) and
        every path below it, never a longer host name."""
        entries = list(entries)
        bases = [e.removesuffix("/") for e in entries if not e.endswith("*")]
        return cls(
            frozenset(bases) | {b + "/" for b in bases},
            tuple(e[:-1] for e in entries if e.endswith("*")) + tuple(b + "/" for b in bases),
        )

    def allows(self, value: str) -> bool:
        return value in self.exact or any(value.startswith(p) for p in self.prefixes)

    @property
    def anything(self) -> bool:
        """Whether an entry was `*` alone."""
        return "" in self.prefixes


class PolicyFile(BaseModel):
    """The policy file (the chart's `<release>-policy` ConfigMap), camelCase."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")

    images: list[str] = Field(default_factory=list)
    commands: bool = False
    service_accounts: list[str] = Field(default_factory=list)
    step_service_account_name: str | None = None
    credentials_secrets: list[str] = Field(default_factory=list)
    label_studio_token_secrets: list[str] = Field(default_factory=list)
    label_studio_urls: list[str] = Field(default_factory=list)
    volume_claims: list[str] = Field(default_factory=lambda: [DEFAULT_CLAIM])
    toleration_keys: list[str] = Field(default_factory=lambda: [GPU_TAINT])
    active_deadline_seconds: dict[Step, Annotated[int, Field(ge=1)]] = Field(default_factory=dict)
    max_active_deadline_seconds: int = Field(DEFAULT_MAX_DEADLINE, ge=1)


@dataclass(frozen=True)
class Policy:
    """The allow-list; the defaults are the chart's (the operator's worker image only,
    no commands, the step ServiceAccount only, no Secrets, no Label Studio, the claim
    `labelpilot-data`, tolerations of the GPU taint only)."""

    images: Patterns = field(default_factory=Patterns)
    commands: bool = False
    service_accounts: Patterns = field(default_factory=Patterns)
    step_service_account: str | None = None
    credentials_secrets: Patterns = field(default_factory=Patterns)
    label_studio_token_secrets: Patterns = field(default_factory=Patterns)
    label_studio_urls: Patterns = field(default_factory=Patterns)
    volume_claims: Patterns = field(default_factory=lambda: Patterns.of([DEFAULT_CLAIM]))
    toleration_keys: Patterns = field(default_factory=lambda: Patterns.of([GPU_TAINT]))
    deadlines: Mapping[Step, int] = field(default_factory=lambda: dict(DEFAULT_DEADLINES))
    max_deadline: int = DEFAULT_MAX_DEADLINE

    @classmethod
    def from_yaml(cls, text: str) -> Policy:
        try:
            data = PolicyFile.model_validate(yaml.safe_load(text) or {})
        except (ValidationError, yaml.YAMLError) as error:
            raise PolicyError(f"invalid policy file: {error}") from error
        return cls(
            images=Patterns.of(data.images),
            commands=data.commands,
            service_accounts=Patterns.of(data.service_accounts),
            step_service_account=data.step_service_account_name or None,
            credentials_secrets=Patterns.of(data.credentials_secrets),
            label_studio_token_secrets=Patterns.of(data.label_studio_token_secrets),
            label_studio_urls=Patterns.of_urls(data.label_studio_urls),
            volume_claims=Patterns.of(data.volume_claims),
            toleration_keys=Patterns.of(data.toleration_keys),
            deadlines={**DEFAULT_DEADLINES, **data.active_deadline_seconds},
            max_deadline=data.max_active_deadline_seconds,
        )

    @classmethod
    def from_file(cls, path: str | Path | None) -> Policy:
        """The policy of a file (the chart's mounted ConfigMap); the defaults without one."""
        if path is None:
            return cls()
        try:
            text = Path(path).read_text()
        except OSError as error:
            raise PolicyError(f"cannot read policy file {path}: {error}") from error
        return cls.from_yaml(text)

    def deadline(self, step: Step, override: int | None) -> int:
        """A step Job's activeDeadlineSeconds: the job's own for its kind, else the
        cluster's for the step."""
        return override or self.deadlines[step]

    def violations(self, spec: LabelingJobSpec, worker_image: str) -> list[str]:
        """Each field of `spec` that the policy refuses, as `spec.<field>: <why>`."""
        return list(self._violations(spec, worker_image))

    def check(self, spec: LabelingJobSpec, worker_image: str) -> None:
        """Raises PolicyError naming every field the policy refuses."""
        found = self.violations(spec, worker_image)
        if found:
            raise PolicyError("not allowed by the cluster's LabelPilot policy: " + "; ".join(found))

    def _violations(self, spec: LabelingJobSpec, worker_image: str) -> Iterator[str]:
        algorithm = spec.auto_labeling.algorithm
        for where, image in (
            ("worker.image", spec.worker.image),
            ("autoLabeling.algorithm.trainingImage", algorithm.training_image),
            ("autoLabeling.algorithm.inferenceImage", algorithm.inference_image),
        ):
            if image is not None and image != worker_image and not self.images.allows(image):
                yield f"spec.{where}: image {image!r} is not allowed"
        if not self.commands:
            for where, command in (
                ("trainingCommand", algorithm.training_command),
                ("inferenceCommand", algorithm.inference_command),
            ):
                if command:
                    yield (f"spec.autoLabeling.algorithm.{where}: custom commands are not allowed")
        account = spec.worker.service_account_name
        if (
            account is not None
            and account != self.step_service_account
            and not (self.service_accounts.allows(account))
        ):
            yield f"spec.worker.serviceAccountName: ServiceAccount {account!r} is not allowed"
        yield from self._storage(spec)
        yield from self._label_studio(spec)
        for role, resources in (
            ("training", spec.resources.training),
            ("inference", spec.resources.inference),
            ("other", spec.resources.other),
        ):
            yield from self._step_resources(f"spec.resources.{role}", resources)

    def _storage(self, spec: LabelingJobSpec) -> Iterator[str]:
        if spec.storage is None:
            return
        claim, secret = spec.storage.volume_claim_name, spec.storage.credentials_secret_name
        if claim is not None and not self.volume_claims.allows(claim):
            yield f"spec.storage.volumeClaimName: PersistentVolumeClaim {claim!r} is not allowed"
        if secret is not None and not self.credentials_secrets.allows(secret):
            yield f"spec.storage.credentialsSecretName: Secret {secret!r} is not allowed"

    def _label_studio(self, spec: LabelingJobSpec) -> Iterator[str]:
        studio = spec.human_task_config.workforce.label_studio
        if studio is None:
            return
        where = "spec.humanTaskConfig.workforce.labelStudio"
        if not self.label_studio_urls.allows(studio.url):
            yield f"{where}.url: Label Studio URL {studio.url!r} is not allowed"
        if not self.label_studio_token_secrets.allows(studio.api_token_secret_name):
            yield (
                f"{where}.apiTokenSecretName: Secret {studio.api_token_secret_name!r} "
                "is not allowed"
            )

    def _step_resources(self, where: str, resources: StepResources) -> Iterator[str]:
        for toleration in resources.tolerations or []:
            key = toleration.key
            if key is None and not self.toleration_keys.anything:
                yield (
                    f"{where}.tolerations: a toleration without a key (every taint) is not allowed"
                )
            elif key is not None and not self.toleration_keys.allows(key):
                yield f"{where}.tolerations: taint key {key!r} is not allowed"
        seconds = resources.active_deadline_seconds
        if seconds is not None and seconds > self.max_deadline:
            yield (
                f"{where}.activeDeadlineSeconds: {seconds} is above the cluster's "
                f"maximum {self.max_deadline}"
            )

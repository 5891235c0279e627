"""One export: a source's labels written to a folder in one format, and what was left out."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from labelpilot.api.run_config import ExportFormat
from labelpilot.engine import storage
from labelpilot.engine.confinement import DataRoots
from labelpilot.engine.exports import coco, jsonl, source, voc, yolo
from labelpilot.engine.exports.common import REASONS, ExportError, Left

NOT_EXPORTED = "not-exported.jsonl"


@dataclass(frozen=True)
class Outcome:
    fmt: ExportFormat
    out: str
    manifest: str
    objects: int
    files: list[str]
    left: list[Left]

    @property
    def exported(self) -> int:
        return self.objects - len(self.left)

    def counts(self) -> dict[str, int]:
        """Objects not exported, by reason (every reason, zeros included)."""
        found = Counter(entry.reason for entry in self.left)
        return {reason: found[reason] for reason in REASONS}

    def summary(self) -> str:
        shown = ", ".join(f"{n} {reason}" for reason, n in self.counts().items())
        return (
            f"exported {self.exported} of {self.objects} objects of {self.manifest} as "
            f"{self.fmt.value}: {len(self.files)} file{'' if len(self.files) == 1 else 's'} "
            f"under {self.out}\n"
            f"not exported: {shown} (listed in {storage.join(self.out, NOT_EXPORTED)})"
        )


def export(
    fmt: ExportFormat,
    src: source.Source,
    out: str,
    *,
    roots: DataRoots | None = None,
    texts: jsonl.TextFiles | None = None,
) -> Outcome:
    """Writes `src`'s labels under folder `out` in format `fmt`, and `not-exported.jsonl`
    listing the objects left out. Masks are read only under `roots` when given; the texts
    of source-refs as `texts` says (default: relative to the manifest's folder, under
    `roots`). Raises ExportError when the format does not hold the job's task type."""
    job = src.job
    why = fmt.refusal(job.task_type)
    if why is not None:
        raise ExportError(f"{src.manifest}: {why}")
    left: list[Left] = []
    items = source.items(src, left, roots=roots)
    if fmt is ExportFormat.COCO:
        description = f"labelpilot export of {src.manifest}"
        files = coco.write(out, items, job.task_type, job.labels, description)
    elif fmt is ExportFormat.YOLO:
        files = yolo.write(out, items, job.labels, left)
    elif fmt is ExportFormat.VOC:
        files = voc.write(out, items, job.labels, left)
    else:
        texts = texts or jsonl.TextFiles(storage.parent(src.manifest), roots)
        files = jsonl.write(out, items, job.task_type, job.labels, texts, left)
    left.sort(key=lambda entry: entry.index)
    storage.write_jsonl(storage.join(out, NOT_EXPORTED), [entry.to_json() for entry in left])
    return Outcome(fmt, out, src.manifest, len(src.objects), files, left)

"""`make bench`: every benchmark in turn; each writes its own section of BENCHMARKS.md.

Left out, to run by hand: the cold build of the binaries (`benchmarks/cold_build.sh`, 20+
minutes), the scale benchmark (`benchmarks/scale.py`, an hour and more up to 1M objects),
the synthetic S3 runs (`benchmarks/s3_throughput.py --data synthetic`, 100,000 objects:
half an hour of upload alone) and `benchmarks/infer_memory.py` and `train_memory.py`, which
compare code trees given to them (`--tree`: an older revision unpacked beside this one), so
a run of this tree alone would replace their before/after tables with one row.
"""

from __future__ import annotations

import subprocess
import sys

BENCHMARKS = (
    ["-m", "benchmarks.devcluster"],
    ["-m", "benchmarks.engine"],
    ["-m", "benchmarks.per_human_label"],
    ["-m", "benchmarks.operator_scale"],
    ["-m", "benchmarks.containers"],
    ["-m", "benchmarks.s3_throughput"],
    ["-m", "benchmarks.under_load"],
    ["-m", "benchmarks.speed_ratio"],
    ["-m", "benchmarks.profile_run", "--label", "make bench"],
)


def main() -> int:
    for args in BENCHMARKS:
        print("==", " ".join(args[1:]), flush=True)
        code = subprocess.call([sys.executable, *args])
        if code:
            return code
    return 0


if __name__ == "__main__":
    sys.exit(main())

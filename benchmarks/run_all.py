"""`make bench`: every benchmark in turn; each writes its own section of BENCHMARKS.md.

The cold build of the binaries (`benchmarks/cold_build.sh`, 20+ minutes) and the scale
benchmark (`benchmarks/scale.py`, an hour and more up to 1M objects) are left out; run them
by hand.
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

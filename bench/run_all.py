"""`make bench`: every benchmark, one after another (each writes its own section of BENCHMARKS.md).
Run on a quiet machine: the figures are wall-clock medians."""

from __future__ import annotations

import subprocess
import sys

BENCHES = [
    "bench.bench_ingest",
    "bench.bench_send",
    "bench.bench_campanha",
    "bench.bench_inbox",
    "bench.bench_rls",
    "bench.bench_mart",
    "bench.bench_limits",
    "bench.bench_metrics",
    "bench.bench_lateness",
]


def main() -> int:
    failed = []
    for module in BENCHES:
        print(f"== {module}", flush=True)
        if subprocess.run([sys.executable, "-m", module, *sys.argv[1:]]).returncode != 0:
            failed.append(module)
    if failed:
        print(f"falharam: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Compare `ingest run` wall time of two revisions of the code on the same files.

    python bench/ingest_ab.py --before HEAD [--after WORKTREE] [--rounds 5] [PATH ...]

Each round runs both revisions once, in alternating order, each in a fresh process on a
fresh index, so both see the same machine load on average. Reports the median wall time of
each, the median of the per-round ratios, and the stage timings from the run report. The
"before" revision is checked out into a temporary git worktree (nothing in this checkout
changes); "after" defaults to this working tree, uncommitted edits included.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_INPUTS = [ROOT.parent / "shared" / "data" / "pdfs"]
RESULTS = ROOT / "bench" / "results"

# Run in the child: the ingest pipeline of whichever checkout is first on sys.path.
CHILD = """
import json, sys, time
from pathlib import Path
t0 = time.perf_counter()
from clinrag.settings import load_settings
from ingest.pipeline import run
home = Path(sys.argv[1])
report = run([Path(p) for p in sys.argv[2:]],
             load_settings({"home": home, "index": home / "index"}))
import ingest
print(json.dumps({"wall_s": time.perf_counter() - t0, "timings_s": report.timings_s,
                  "chunks": report.added_chunks, "code": str(Path(ingest.__file__).parent)}))
"""


def run_once(checkout: Path, inputs: list[str], workdir: Path) -> dict:
    home = workdir / "home"
    shutil.rmtree(home, ignore_errors=True)
    env = dict(os.environ, PYTHONPATH=str(checkout), HF_HUB_OFFLINE="1")
    started = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", CHILD, str(home), *inputs], env=env,
                         cwd=checkout, capture_output=True, text=True, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    if Path(result["code"]).resolve() != (checkout / "ingest").resolve():
        raise RuntimeError(f"measured {result['code']}, not the checkout {checkout}")
    result["process_s"] = time.perf_counter() - started  # interpreter start and exit included
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("inputs", nargs="*", default=[str(p) for p in DEFAULT_INPUTS])
    parser.add_argument("--before", default="HEAD", help="git revision to compare against")
    parser.add_argument("--after", type=Path, default=ROOT, help="checkout to measure")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--name", default="ingest_ab", help="results file stem")
    args = parser.parse_args()
    missing = [p for p in args.inputs if not Path(p).exists()]
    if missing:
        print(f"inputs not found: {missing} (the shared data folder is absent?)", file=sys.stderr)
        return 2
    rev = subprocess.run(["git", "rev-parse", "--short", args.before], cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout.strip()
    tmp = Path(tempfile.mkdtemp(prefix="ingest-ab-"))
    before = tmp / "before"
    subprocess.run(["git", "worktree", "add", "--detach", str(before), rev], cwd=ROOT,
                   check=True, capture_output=True)
    runs: dict[str, list[dict]] = {"before": [], "after": []}
    try:
        for i in range(args.rounds):
            order = [("before", before), ("after", args.after)]
            for name, checkout in order if i % 2 == 0 else order[::-1]:
                result = run_once(checkout, args.inputs, tmp / name)
                runs[name].append(result)
                print(f"round {i + 1} {name:6s} {result['wall_s']:.1f} s  {result['timings_s']}",
                      flush=True)
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(before)], cwd=ROOT,
                       capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)
    ratios = [b["wall_s"] / a["wall_s"] for b, a in zip(runs["before"], runs["after"])]
    summary = {
        "before": rev, "after": str(args.after), "inputs": args.inputs, "rounds": args.rounds,
        "cpus": os.cpu_count(), "load_avg_end": os.getloadavg()[0],
        "median_wall_s": {k: statistics.median(r["wall_s"] for r in v) for k, v in runs.items()},
        "median_process_s": {k: statistics.median(r["process_s"] for r in v)
                             for k, v in runs.items()},
        "median_speedup": statistics.median(ratios), "speedups": ratios, "runs": runs,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{args.name}.json").write_text(json.dumps(summary, indent=1))
    print(f"median wall: before ({rev}) {summary['median_wall_s']['before']:.1f} s, after "
          f"{summary['median_wall_s']['after']:.1f} s; median per-round speed-up "
          f"{summary['median_speedup']:.3f}x (min {min(ratios):.3f}, max {max(ratios):.3f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

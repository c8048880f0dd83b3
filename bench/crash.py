"""Crash loop: SIGKILL ``ingest run`` at random points and prove the index never breaks.

A mixed corpus is generated (PubMed XML, text, Markdown, JSONL, small PDFs made with fpdf2, and
broken files of every kind). Writers are then killed with SIGKILL again and again:

- at every named checkpoint (``ingest/store/faults.py``: after a parsed file, after embedding,
  and at each step of writing a generation: staged, half the tables, tables, indexes,
  manifest, renamed, switched),
- at a random time during the run (parse, chunk, embed),
- at a random time inside the commit (a timer started when writing the generation begins).

After every kill the index must load and pass ``ingest verify``; its chunk table must hold no
duplicate and match its ledger; and if the killed run got as far as switching ``CURRENT``, the
new generation must hold exactly the chunk ids of an uninterrupted run over the same corpus.
The corpus alternates between two states (A, and B = A with files edited, deleted and added)
each time a run completes, so kills land in full builds and in incremental updates alike. The
loop ends with an uninterrupted run, compared chunk id for chunk id with a clean index.

By default the loop starts from a copy of the uninterrupted state-A index, so every run is an
incremental update (``--cold``: from an empty index, every early run a full build; the CI test
``tests/test_reliability_crash.py`` starts cold). Writers are forked from this process with
the embedder already loaded (``--mode fork``, the default: a kill costs only the run it
interrupts), or started as real ``python -m ingest.cli run`` processes (``--mode cli``: 10 s
of start-up each on a small CPU; ``--cli-kills N`` makes only the first N runs real ones).

    python bench/crash.py [--files 200] [--kills 100] [--mode fork|cli] [--cli-kills 10]
                          [--cold] [--share 0.1] [--seed 7] [--out bench/results/crash.json]

The parts: ``bench/crash_corpus.py`` (the corpus and its two states), ``bench/crash_writers.py``
(the killed writers), ``bench/crash_checks.py`` (the invariants checked after each kill); this
file runs the loop and writes the summary.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from bench.crash_checks import check_after_kill, chunk_ids, reference_ids  # noqa: E402
from bench.crash_corpus import Mutation, make_corpus  # noqa: E402
from bench.crash_writers import CHECKPOINTS, Kill, cli_run, forked_run  # noqa: E402


def crash_loop(corpus: Path, work: Path, kills: int, embedder, seed: int = 7, *,
               mode: str = "fork", cli_kills: int = 0, warm_start: bool = False,
               share: float = 0.1, log=print) -> dict:
    """The whole experiment; raises AssertionError at the first broken invariant.

    ``warm_start``: begin from a copy of the uninterrupted state-A index, so every killed run
    is an incremental update (cheap on a busy machine); otherwise the first runs build the
    index from nothing.
    """
    from clinrag.settings import load_settings

    rng = random.Random(seed)
    index = work / "index"
    settings = load_settings({"home": work / "home", "index": index})
    mutation = Mutation.plan(corpus, seed, share)
    refs, durations, commit_s = {}, {}, {}
    for state in ("A", "B"):
        if state == "B":
            mutation.toggle()
        ref_settings = load_settings({"home": work / "home", "index": work / f"ref_{state}"})
        refs[state], durations[state], commit_s[state] = reference_ids(corpus, ref_settings,
                                                                      embedder)
        log(f"reference {state}: {len(refs[state])} chunks, {durations[state]:.1f} s")
    reference_s = dict(durations)
    mutation.toggle()  # back to A
    if warm_start:
        shutil.copytree(work / "ref_A", index)
        mutation.toggle()  # the index holds A: the first run has B's changes to make
        durations = {"B": durations["B"] * share * 2}  # a first guess for kill times
    # Kill times are drawn within the duration of the last run that finished: a clean build
    # at first, an incremental update (much shorter) once the index exists.
    typical = max(durations.values())
    commit = max(commit_s.values())
    results: list[Kill] = []
    kinds = ["checkpoint", "time", "commit-time"]
    if mode == "cli":
        cli_kills = 2 * kills
    i = 0
    while sum(k.killed for k in results) < kills and i < 3 * kills:
        how = kinds[i % 3]
        if how == "checkpoint":
            how = CHECKPOINTS[(i // 3) % len(CHECKPOINTS)]
        use_cli = i < cli_kills and how != "commit-time"
        startup = 10.0 if use_cli else 0.0
        delay = None
        if how == "time":
            delay = startup + rng.uniform(0.0, 0.95 * typical)
        elif how == "commit-time":
            delay = rng.uniform(0.0, 0.95 * commit)
        kill = Kill(how, delay, state=mutation.state)
        before = _current(index)
        if use_cli:
            cli_run(corpus, index, kill)
        else:
            forked_run(corpus, settings, embedder, kill, commit)
        assert kill.killed or kill.exit_code in (0, 3), f"writer failed: exit {kill.exit_code}"
        kill.committed, after = check_after_kill(index, before, refs[mutation.state])
        results.append(kill)
        i += 1
        log(f"run {i:3d} (kills {sum(k.killed for k in results):3d}/{kills}) "
            f"{'cli ' if use_cli else 'fork'} {how:20s} "
            f"{'killed' if kill.killed else 'finished':8s} after {kill.seconds:6.2f} s  "
            f"state {mutation.state}  current {after or '-'}"
            f"{'  (new generation)' if kill.committed else ''}")
        if not kill.killed and not use_cli:
            typical = kill.seconds
        if not kill.killed or kill.committed:
            mutation.toggle()  # the index caught up: change the corpus so kills keep landing
    from ingest.pipeline import run

    final = run([corpus], settings, embedder=embedder)
    got = chunk_ids(index)
    want = refs[mutation.state]
    from ingest.store import IndexStore

    store = IndexStore(index)
    summary = {
        "runs": len(results),
        "killed": sum(k.killed for k in results),
        "finished_before_kill": sum(not k.killed for k in results),
        "committed_then_killed": sum(k.killed and k.committed for k in results),
        "by_kind": _by_kind(results),
        "cli_processes": min(cli_kills, len(results)),
        "final_state": mutation.state,
        "final_generation": final.generation,
        "chunks_expected": len(want),
        "chunks_got": len(got),
        "lost": len(want - set(got)),
        "extra": len(set(got) - want),
        "duplicated": len(got) - len(set(got)),
        "verify_failures": 0,
        "staging_left": len(list((index / "staging").glob("*"))) if (index / "staging").exists()
        else 0,
        "generations_kept": len(store.names()),
        "reference_seconds": {k: round(v, 2) for k, v in reference_s.items()},
        "warm_start": warm_start,
        "mutation": {"edited": len(mutation.edited), "deleted": len(mutation.deleted),
                     "added": len(mutation.added)},
        "kills": [k.__dict__ for k in results],
    }
    assert summary["lost"] == summary["extra"] == summary["duplicated"] == 0, summary
    return summary


def _current(index: Path) -> str | None:
    from ingest.store import IndexStore

    return IndexStore(index).current_name()


def _by_kind(results: list[Kill]) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for kill in results:
        row = out.setdefault(kill.how, {"runs": 0, "killed": 0})
        row["runs"] += 1
        row["killed"] += kill.killed
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--kills", type=int, default=100)
    parser.add_argument("--mode", choices=["fork", "cli"], default="fork")
    parser.add_argument("--cli-kills", type=int, default=10,
                        help="of the kills, the first N use real `ingest run` processes")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--cold", action="store_true",
                        help="start from an empty index (every early run is a full build)")
    parser.add_argument("--share", type=float, default=0.1,
                        help="share of text files edited between corpus states A and B")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "crash.json")
    parser.add_argument("--keep", type=Path, help="work folder to keep (default: a temp dir)")
    args = parser.parse_args(argv)

    from clinrag.settings import load_settings
    from ingest.embed import Embedder

    work = args.keep or Path(tempfile.mkdtemp(prefix="clinrag-crash-"))
    corpus = work / "corpus"
    if corpus.exists():
        shutil.rmtree(corpus)
    kinds = make_corpus(corpus, args.files, args.seed)
    print(f"corpus: {args.files} files {kinds} in {corpus}")
    embedder = Embedder.load(load_settings().embed)
    start = time.monotonic()
    summary = crash_loop(corpus, work, args.kills, embedder, args.seed, mode=args.mode,
                         cli_kills=args.cli_kills, warm_start=not args.cold, share=args.share)
    summary.update(files=args.files, kinds=kinds, seed=args.seed, mode=args.mode,
                   wall_seconds=round(time.monotonic() - start, 1))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(summary, indent=1) + "\n")
    print(json.dumps({k: v for k, v in summary.items() if k != "kills"}, indent=1))
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

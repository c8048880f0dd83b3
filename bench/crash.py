"""Crash loop: SIGKILL ``ingest run`` at random points and prove the index never breaks.

A mixed corpus is generated (PubMed XML, text, Markdown, JSONL, small PDFs made with fpdf2, and
broken files of every kind). Writers are then killed with SIGKILL again and again:

- at every named checkpoint (``CLINRAG_KILL_AT``: after a parsed file, after embedding, and at
  each step of writing a generation: staged, half the tables, tables, indexes, manifest,
  renamed, switched),
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
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

# Every named kill point; the ones tests/test_ingest_pipeline.py does not already use come
# first, so a short loop adds coverage rather than repeating it.
CHECKPOINTS = ["stage-created", "tables-written", "switched", "parsed-one", "manifest-written",
               "embedded", "tables-half-written", "indexes-written", "renamed"]

_WORDS = (
    "patients randomised trial cohort placebo dose mortality hospitalisation kidney heart "
    "failure stroke insulin metformin statin aspirin anticoagulation bleeding infection "
    "vaccine influenza pneumonia sepsis outcome hazard ratio confidence interval baseline "
    "follow-up adverse events primary endpoint secondary analysis biomarker inflammation "
    "interleukin troponin creatinine haemoglobin blood pressure diabetes obesity exercise "
    "physiotherapy pain fracture osteoporosis asthma copd smoking cessation depression "
    "anxiety dementia cognition screening incidence prevalence risk reduction survival"
).split()


# -- corpus ------------------------------------------------------------------------------------
def _sentence(rng: random.Random, n: int) -> str:
    words = [rng.choice(_WORDS) for _ in range(n)]
    return (" ".join(words)).capitalize() + "."


def _paragraph(rng: random.Random, sentences: int) -> str:
    return " ".join(_sentence(rng, rng.randint(8, 16)) for _ in range(sentences))


def _pubmed_xml(rng: random.Random, first_pmid: int, articles: int) -> str:
    parts = ['<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE PubmedArticleSet PUBLIC '
             '"-//NLM//DTD PubMedArticle, 1st January 2024//EN" '
             '"https://dtd.nlm.nih.gov/ncbi/pubmed/out/pubmed_240101.dtd">\n<PubmedArticleSet>']
    for i in range(articles):
        parts.append(
            f"<PubmedArticle><MedlineCitation><PMID>{first_pmid + i}</PMID><Article>"
            f"<Journal><Title>Journal of Synthetic Medicine</Title><JournalIssue><PubDate>"
            f"<Year>{rng.randint(2000, 2024)}</Year></PubDate></JournalIssue></Journal>"
            f"<ArticleTitle>{_sentence(rng, 7)}</ArticleTitle><Abstract>"
            f"<AbstractText Label=\"BACKGROUND\">{_paragraph(rng, 2)}</AbstractText>"
            f"<AbstractText Label=\"RESULTS\">{_paragraph(rng, 3)}</AbstractText>"
            f"</Abstract></Article></MedlineCitation></PubmedArticle>")
    parts.append("</PubmedArticleSet>\n")
    return "".join(parts)


def _pdf(rng: random.Random, pages: int) -> bytes:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_creation_date(_FIXED_DATE)
    pdf.set_title(_sentence(rng, 6))
    pdf.set_font("Helvetica", size=11)
    for _ in range(pages):
        pdf.add_page()
        pdf.multi_cell(0, 6, _paragraph(rng, 5))
    return bytes(pdf.output())


def _broken(rng: random.Random, kind: str) -> tuple[str, bytes]:
    if kind == "utf8":
        return "txt", b"Aspirin and \xff\xfe bleeding risk in \xc3 older adults.\n"
    if kind == "json":
        return "jsonl", b'{"id": "broken-1", "title": "Cut off", "text": "Statins red'
    if kind == "xml":
        return "xml", b"<PubmedArticleSet><PubmedArticle><MedlineCitation><PMID>1</PMID>"
    if kind == "pdf":
        return "pdf", b"%PDF-1.7\n" + rng.randbytes(600)
    if kind == "notpdf":
        return "pdf", b"<html><body>This is not a PDF.</body></html>\n"
    return "txt", b""  # empty


_FIXED_DATE = None


def make_corpus(folder: Path, files: int = 200, seed: int = 7) -> dict[str, int]:
    """Write ``files`` files of mixed kinds into ``folder``; returns the count per kind.

    Shares: 30 % text/Markdown, 25 % PubMed XML (1-3 articles), 20 % JSONL (2-4 records, some
    with a bad line), 15 % PDF (1-2 pages), 10 % broken (invalid UTF-8, truncated JSON,
    malformed XML, garbage or HTML named .pdf, empty).
    """
    global _FIXED_DATE
    from datetime import datetime, timezone

    _FIXED_DATE = datetime(2024, 1, 1, tzinfo=timezone.utc)
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    kinds: dict[str, int] = {}
    pmid = 91_000_000 + seed * 10_000
    for i in range(files):
        roll = rng.random()
        if roll < 0.30:
            kind = "text"
            if rng.random() < 0.5:
                body = f"# {_sentence(rng, 5)}\n\n## Methods\n\n{_paragraph(rng, 3)}\n\n" \
                       f"## Results\n\n{_paragraph(rng, 3)}\n"
                (folder / f"note_{i:04d}.md").write_text(body, "utf-8")
            else:
                (folder / f"note_{i:04d}.txt").write_text(_paragraph(rng, 5) + "\n", "utf-8")
        elif roll < 0.55:
            kind = "pubmed"
            n = rng.randint(1, 3)
            (folder / f"pubmed_{i:04d}.xml").write_text(_pubmed_xml(rng, pmid, n), "utf-8")
            pmid += n
        elif roll < 0.75:
            kind = "jsonl"
            lines = [json.dumps({"id": f"rec-{seed}-{i}-{j}", "title": _sentence(rng, 6),
                                 "text": _paragraph(rng, 4), "year": rng.randint(1990, 2024)})
                     for j in range(rng.randint(2, 4))]
            if rng.random() < 0.3:
                lines.insert(1, '{"id": "half a record", "text": ')
            (folder / f"records_{i:04d}.jsonl").write_text("\n".join(lines) + "\n", "utf-8")
        elif roll < 0.90:
            kind = "pdf"
            (folder / f"paper_{i:04d}.pdf").write_bytes(_pdf(rng, rng.randint(1, 2)))
        else:
            kind = "broken"
            suffix, data = _broken(rng, rng.choice(["utf8", "json", "xml", "pdf", "notpdf",
                                                    "empty"]))
            (folder / f"broken_{i:04d}.{suffix}").write_bytes(data)
        kinds[kind] = kinds.get(kind, 0) + 1
    return kinds


@dataclass
class Mutation:
    """State B of a corpus: some files edited, some deleted, some added (toggled back to A)."""

    edited: dict[Path, tuple[bytes, bytes]] = field(default_factory=dict)
    deleted: dict[Path, bytes] = field(default_factory=dict)
    added: dict[Path, bytes] = field(default_factory=dict)
    state: str = "A"

    @classmethod
    def plan(cls, folder: Path, seed: int, share: float = 0.1) -> Mutation:
        rng = random.Random(seed + 1)
        texts = sorted(p for p in folder.iterdir() if p.suffix in (".txt", ".md"))
        others = sorted(p for p in folder.iterdir() if p.suffix in (".xml", ".jsonl", ".pdf"))
        n = max(1, int(len(texts) * share))
        mutation = cls()
        for path in rng.sample(texts, min(n, len(texts))):
            old = path.read_bytes()
            mutation.edited[path] = (old, old + f"\n{_paragraph(rng, 2)}\n".encode())
        for path in rng.sample(others, min(max(1, n // 2), len(others))):
            mutation.deleted[path] = path.read_bytes()
        for j in range(max(1, n // 2)):
            mutation.added[folder / f"added_{j:03d}.txt"] = (_paragraph(rng, 4) + "\n").encode()
        return mutation

    def toggle(self) -> str:
        to_b = self.state == "A"
        for path, (old, new) in self.edited.items():
            path.write_bytes(new if to_b else old)
        for path, data in self.deleted.items():
            if to_b:
                path.unlink(missing_ok=True)
            else:
                path.write_bytes(data)
        for path, data in self.added.items():
            if to_b:
                path.write_bytes(data)
            else:
                path.unlink(missing_ok=True)
        self.state = "B" if to_b else "A"
        return self.state


# -- one killed writer ---------------------------------------------------------------------------
@dataclass
class Kill:
    how: str                 # checkpoint name, "time" or "commit-time"
    delay_s: float | None    # for the timed kinds
    killed: bool = False     # False: the run finished before the kill landed
    exit_code: int | None = None
    seconds: float = 0.0
    committed: bool = False  # the run switched CURRENT before dying
    state: str = "A"


def forked_run(corpus: Path, settings, embedder, kill: Kill, commit_s: float) -> None:
    """Run the pipeline in a forked child and SIGKILL it as ``kill`` says."""
    start = time.monotonic()
    pid = os.fork()
    if pid == 0:  # child: never returns
        code = 1
        try:
            import torch

            torch.set_num_threads(1)
            if kill.how in CHECKPOINTS:
                os.environ["CLINRAG_KILL_AT"] = kill.how
            if kill.how == "commit-time":
                from ingest.store.generation import Writer

                original = Writer.commit

                def commit(self, data, keep):
                    threading.Timer(kill.delay_s, os.kill, (os.getpid(), signal.SIGKILL)).start()
                    return original(self, data, keep)

                Writer.commit = commit
            from ingest.pipeline import run

            run([corpus], settings, embedder=embedder)
            code = 0
        except BaseException:  # noqa: BLE001 - report anything, then leave the fork for good
            traceback.print_exc()
        finally:
            os._exit(code)
    deadline = start + (kill.delay_s if kill.how == "time" else 1e9)
    status = None
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() >= deadline:
            os.kill(pid, signal.SIGKILL)
            _, status = os.waitpid(pid, 0)
            break
        if time.monotonic() - start > 600:
            os.kill(pid, signal.SIGKILL)
            raise RuntimeError("a writer ran for 10 minutes; hung?")
        time.sleep(0.005)
    kill.seconds = time.monotonic() - start
    if os.WIFSIGNALED(status):
        kill.killed = os.WTERMSIG(status) == signal.SIGKILL
        kill.exit_code = -os.WTERMSIG(status)
    else:
        kill.exit_code = os.WEXITSTATUS(status)


def cli_run(corpus: Path, index: Path, kill: Kill) -> None:
    """Run ``python -m ingest.cli run`` as its own process and SIGKILL it."""
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1")
    env.pop("CLINRAG_KILL_AT", None)
    if kill.how in CHECKPOINTS:
        env["CLINRAG_KILL_AT"] = kill.how
    start = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "ingest.cli", "run", str(corpus), "--index",
                             str(index), "--quiet"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        proc.wait(timeout=kill.delay_s if kill.how == "time" else 600)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    kill.seconds = time.monotonic() - start
    kill.exit_code = proc.returncode
    kill.killed = proc.returncode == -signal.SIGKILL


# -- checks --------------------------------------------------------------------------------------
def chunk_ids(index: Path) -> list[str]:
    from ingest.store import IndexStore

    return [c.chunk_id for c in IndexStore(index).open(fallback=False).chunks]


def check_after_kill(index: Path, before: str | None, reference: set[str]) -> tuple[bool, str]:
    """Assert the index is sound; returns (a new generation was committed, current name)."""
    from ingest.cli import main as ingest_main
    from ingest.store import IndexStore

    store = IndexStore(index)
    current = store.current_name()
    if current is None:
        assert before is None, f"CURRENT vanished (was {before})"
        # A generation renamed into place but never made current (killed before the switch)
        # may exist until the next writer cleans up; readers must not be served it.
        try:
            store.open()
        except FileNotFoundError:
            return False, ""
        raise AssertionError("a generation that was never made current was served")
    assert store.verify() == [], store.verify()
    with open(os.devnull, "w") as sink:
        stdout, sys.stdout = sys.stdout, sink
        try:
            assert ingest_main(["verify", "--index", str(index)]) == 0
        finally:
            sys.stdout = stdout
    generation = store.open(fallback=False)
    ids = [c.chunk_id for c in generation.chunks]
    assert len(ids) == len(set(ids)), f"{len(ids) - len(set(ids))} duplicated chunks"
    ledger = {c for e in generation.ledger.values() if e.status == "ok" for c in e.chunk_ids}
    assert ledger == set(ids), "chunk table and ledger disagree"
    committed = current != before
    if committed:
        lost, extra = reference - set(ids), set(ids) - reference
        assert not lost and not extra, f"{len(lost)} lost, {len(extra)} extra chunks"
    return committed, current


def reference_ids(corpus: Path, settings, embedder) -> tuple[set[str], float, float]:
    """Chunk ids of an uninterrupted run into a fresh index; its total and commit seconds."""
    from ingest.pipeline import run

    start = time.monotonic()
    report = run([corpus], settings, embedder=embedder)
    total = time.monotonic() - start
    return set(chunk_ids(settings.index_dir)), total, report.timings_s.get("write", 0.05)


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
    embedder = Embedder(load_settings().embed)
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

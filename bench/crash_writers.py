"""The writers the crash loop kills: one ``ingest.pipeline.run`` forked from the loop's process
(embedder already loaded) or one real ``python -m ingest.cli run`` process, SIGKILLed at a named
checkpoint, at a random time, or at a random time inside the commit.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

# Every named kill point; the ones tests/test_ingest_pipeline.py does not already use come
# first, so a short loop adds coverage rather than repeating it.
CHECKPOINTS = ["stage-created", "tables-written", "switched", "parsed-one", "manifest-written",
               "embedded", "tables-half-written", "indexes-written", "renamed"]


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
                from ingest.store import faults

                faults.arm(kill.how)
            if kill.how == "commit-time":
                from ingest.store.writer import Writer

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
    # The faults module arms the step (none for kills by time) and runs `ingest` as usual.
    step = kill.how if kill.how in CHECKPOINTS else "none"
    start = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "ingest.store.faults", step, "run",
                             str(corpus), "--index", str(index), "--quiet"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        proc.wait(timeout=kill.delay_s if kill.how == "time" else 600)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    kill.seconds = time.monotonic() - start
    kill.exit_code = proc.returncode
    kill.killed = proc.returncode == -signal.SIGKILL


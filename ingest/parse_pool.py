"""Parse files in separate processes with a time and memory limit per file.

A file that hangs is killed at its deadline and reported as ``timeout``; one that exhausts
the memory limit or crashes the parser is reported as ``memory`` / ``crashed``. The worker is
replaced and the run goes on. Workers are plain subprocesses speaking JSON lines, so nothing
depends on how the main program was started.
"""

from __future__ import annotations

import json
import logging
import os
import selectors
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from clinrag.records import document_from_json
from ingest.errors import SourceError
from ingest.sources import Loaded, ParseOptions, Rejected

_ROOT = str(Path(__file__).resolve().parent.parent)
log = logging.getLogger(__name__)


@dataclass
class ParseOutcome:
    path: Path
    loaded: Loaded | None
    error: SourceError | None
    seconds: float


class _Worker:
    def __init__(self, memory_mb: int):
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [_ROOT, env.get("PYTHONPATH")]))
        self.process = subprocess.Popen(
            [sys.executable, "-m", "ingest.parse_worker", str(memory_mb)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env,
        )
        self.buffer = b""
        self.task: Path | None = None
        self.started = 0.0

    def submit(self, path: Path, options: ParseOptions) -> None:
        self.task = path
        self.started = time.monotonic()
        self.buffer = b""
        request = {"path": str(path), "options": asdict(options)}
        self.process.stdin.write(json.dumps(request).encode("utf-8") + b"\n")
        self.process.stdin.flush()

    def read_available(self) -> bytes | None:
        """Bytes read so far; returns the full line when complete, b"" on EOF, None if partial."""
        chunk = os.read(self.process.stdout.fileno(), 1 << 20)
        if not chunk:
            return b""
        self.buffer += chunk
        if self.buffer.endswith(b"\n"):
            return self.buffer
        return None

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        for stream in (self.process.stdin, self.process.stdout):
            try:
                stream.close()
            except OSError:
                pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            # SIGKILL was sent; a starved machine can take longer to tear down a large
            # process. The run must go on: the OS reaps it, subprocess collects the zombie.
            log.warning("parser process %d still exiting 10 s after SIGKILL; not waiting",
                        self.process.pid)


class ParsePool:
    """``with ParsePool(...) as pool: for outcome in pool.parse(paths): ...``

    ``options`` reach :func:`ingest.sources.loader_for` in every worker.
    """

    def __init__(self, workers: int, timeout_s: float, memory_mb: int,
                 options: ParseOptions = ParseOptions()):
        self.size = max(1, workers)
        self.timeout_s = timeout_s
        self.memory_mb = memory_mb
        self.options = options
        self._workers: list[_Worker] = []

    def __enter__(self) -> ParsePool:
        return self

    def __exit__(self, *exc) -> None:
        for worker in self._workers:
            worker.stop()
        self._workers.clear()

    def parse(self, paths: Iterable[Path]) -> Iterator[ParseOutcome]:
        """Outcomes in completion order; every path yields exactly one outcome."""
        queue = list(paths)[::-1]
        while len(self._workers) < min(self.size, len(queue)):
            self._workers.append(_Worker(self.memory_mb))
        idle = list(self._workers)
        busy: dict[int, _Worker] = {}
        selector = selectors.DefaultSelector()
        try:
            while queue or busy:
                while queue and idle:
                    worker = idle.pop()
                    try:
                        worker.submit(queue[-1], self.options)
                    except (BrokenPipeError, OSError):
                        idle.append(self._replace(worker))
                        continue
                    queue.pop()
                    busy[worker.process.stdout.fileno()] = worker
                    selector.register(worker.process.stdout, selectors.EVENT_READ)
                now = time.monotonic()
                deadline = min(w.started + self.timeout_s for w in busy.values())
                for key, _ in selector.select(timeout=max(0.0, deadline - now) + 0.01):
                    worker = busy[key.fileobj.fileno()]
                    line = worker.read_available()
                    if line is None:
                        continue
                    selector.unregister(key.fileobj)
                    del busy[key.fileobj.fileno()]
                    outcome = self._outcome(worker, line)
                    idle.append(worker if worker.process.poll() is None and line else
                                self._replace(worker))
                    yield outcome
                now = time.monotonic()
                for fd, worker in list(busy.items()):
                    if now - worker.started > self.timeout_s:
                        selector.unregister(worker.process.stdout)
                        del busy[fd]
                        path, elapsed = worker.task, now - worker.started
                        idle.append(self._replace(worker))
                        yield ParseOutcome(path, None, SourceError(
                            "timeout", f"parsing took longer than {self.timeout_s:g} s; stopped"),
                            elapsed)
        finally:
            selector.close()

    def _outcome(self, worker: _Worker, line: bytes) -> ParseOutcome:
        path = worker.task
        elapsed = time.monotonic() - worker.started
        if not line:
            code = worker.process.wait(timeout=10)
            return ParseOutcome(path, None, SourceError(
                "crashed",
                f"the parser process died (exit code {code}); a crash in a parsing library or "
                f"more than its {self.memory_mb} MB memory limit"), elapsed)
        reply = json.loads(line)
        if "error" in reply:
            err = reply["error"]
            return ParseOutcome(path, None, SourceError(err["category"], err["message"]), elapsed)
        ok = reply["ok"]
        loaded = Loaded(
            [document_from_json(d) for d in ok["documents"]],
            [Rejected(**r) for r in ok["rejected"]],
        )
        return ParseOutcome(path, loaded, None, elapsed)

    def _replace(self, worker: _Worker) -> _Worker:
        worker.stop()
        fresh = _Worker(self.memory_mb)
        self._workers[self._workers.index(worker)] = fresh
        return fresh

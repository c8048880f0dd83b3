"""Fault injection for the crash tests: a named step at which the writer SIGKILLs itself.

Off unless a test arms it. Production never reads the environment for it: the crash tests
and benches start the writer through this module (``python -m ingest.store.faults STEP
run PATH...``), which arms the step and then runs the ``ingest`` command line as usual;
in-process (forked) writers call ``arm`` directly.

Steps: parsed-one, embedded (ingest/pipeline.py); stage-created, tables-half-written,
tables-written, indexes-written, manifest-written, renamed, switched (ingest/store/writer.py).
"""

from __future__ import annotations

import os
import signal
import sys

_armed: str | None = None


def arm(step: str | None) -> None:
    """Kill this process at ``step`` (None: never)."""
    global _armed
    _armed = step


def checkpoint(step: str) -> None:
    """A point a crash test may stop the writer at; nothing happens unless it is armed."""
    if _armed == step:
        os.kill(os.getpid(), signal.SIGKILL)


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args:
        print("usage: python -m ingest.store.faults STEP INGEST-ARGS...", file=sys.stderr)
        return 2
    # Run as a script this file is __main__; the writer reads the imported module.
    from ingest.store import faults

    faults.arm(args[0])
    from ingest.cli import main as ingest_main

    return ingest_main(args[1:])


if __name__ == "__main__":
    sys.exit(main())

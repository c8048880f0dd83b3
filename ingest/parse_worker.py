"""A parser process: ``python -m ingest.parse_worker MEMORY_MB``.

Reads one JSON request per line on stdin (``{"path": ..., "options": {...}}``, the options
being :class:`ingest.sources.ParseOptions`' fields) and answers one JSON line on
its protocol pipe. It never imports torch or the index code, so it starts fast and a hostile
file can only take this small process down. Messages are JSON (no pickle of parsed content).
"""

from __future__ import annotations

import json
import os
import resource
import sys
import traceback
from pathlib import Path


def main() -> None:
    memory_mb = int(sys.argv[1])
    limit = memory_mb * 1024 * 1024
    try:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    except (ValueError, OSError):  # pragma: no cover - platform without RLIMIT_AS
        pass
    # Keep the protocol pipe for ourselves: anything a library prints goes to stderr.
    protocol = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8")
    sys.stdout = sys.stderr
    from clinrag.records import document_to_json
    from ingest.errors import SourceError
    from ingest.sources import ParseOptions, loader_for

    for line in sys.stdin:
        request = json.loads(line)
        path = Path(request["path"])
        try:
            loaded = loader_for(path, ParseOptions(**request.get("options", {})))(path)
            reply = {
                "ok": {
                    "documents": [document_to_json(d) for d in loaded.documents],
                    "rejected": [r.__dict__ for r in loaded.rejected],
                }
            }
        except SourceError as exc:
            reply = {"error": {"category": exc.category, "message": exc.message}}
        except MemoryError:
            reply = {"error": {"category": "memory",
                               "message": f"parser exceeded its {memory_mb} MB memory limit"}}
        except RecursionError:
            reply = {"error": {"category": "parse_error", "message": "structure nested too deeply"}}
        except Exception as exc:  # any library bug on a hostile file is that file's failure
            last = traceback.extract_tb(exc.__traceback__)[-1:]
            where = f" at {Path(last[0].filename).name}:{last[0].lineno}" if last else ""
            reply = {"error": {"category": "parse_error",
                               "message": f"{type(exc).__name__}: {exc}{where}"[:500]}}
        try:
            text = json.dumps(reply)
        except MemoryError:
            text = '{"error": {"category": "memory", "message": "parsed result too large"}}'
        protocol.write(text + "\n")
        protocol.flush()


if __name__ == "__main__":
    main()

"""``clinrag serve``: the HTTP API, the OpenAI-compatible endpoint and the web page."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from clinrag.backend_args import add_backend_args, backend_settings
from clinrag.settings import load_settings
from server.config import load_serve_config


def build_parser(prog: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description="Serve grounded answers over HTTP "
                                     "(JSON API, OpenAI-compatible chat, web page).")
    parser.add_argument("--host", help="interface to bind (default 127.0.0.1: this machine "
                        "only; 0.0.0.0 exposes the service to the network)")
    parser.add_argument("--port", type=int, help="TCP port (default 8000)")
    parser.add_argument("--index", type=Path, help="index folder (default: $CLINRAG_HOME/index)")
    parser.add_argument("--home", type=Path, help="clinrag home folder (default: ./data)")
    add_backend_args(parser)
    parser.add_argument("--workers", type=int, help="answers computed at once (default 2)")
    parser.add_argument("--queue", type=int, dest="queue_size",
                        help="requests that may wait for a worker before 503 (default 8)")
    parser.add_argument("--timeout", type=float, dest="request_timeout_s",
                        help="seconds before a request gets 504 (default 120)")
    parser.add_argument("--rate", type=float, dest="rate_per_minute",
                        help="requests per minute per key (default 30)")
    parser.add_argument("--burst", type=int, help="requests a key may make at once (default 10)")
    parser.add_argument("--keys-file", type=Path, help="API key hashes (default "
                        "HOME/server/keys.json)")
    parser.add_argument("--audit-log", type=Path, help="default HOME/server/audit.jsonl")
    parser.add_argument("--library", type=Path, help="folder that ingest requests may name "
                        "paths under (default HOME/library)")
    parser.add_argument("--log-questions", action="store_true", default=None,
                        help="log question text (default: only a keyed fingerprint)")
    parser.add_argument("--stub", action="store_true",
                        help="serve canned answers without models (load tests of the service "
                        "only; never for users)")
    return parser


def main(argv: list[str] | None = None, prog: str = "clinrag serve") -> int:
    import uvicorn

    from server.app import create_app

    args = build_parser(prog).parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: "
                        "%(message)s")
    settings = load_settings({"home": args.home, "index": args.index,
                              "retrieve": backend_settings(args)})
    fields = ("host", "port", "workers", "queue_size", "request_timeout_s", "rate_per_minute",
              "burst", "keys_file", "audit_log", "library", "log_questions")
    config = load_serve_config({f: getattr(args, f) for f in fields})
    answerer = None
    if args.stub:
        from server.stub import StubAnswerer

        logging.getLogger("clinrag.server").warning("STUB MODE: canned answers, no models")
        answerer = StubAnswerer(delay_s=0.05)
    elif not (settings.index_dir / "CURRENT").exists():
        print(f"{prog}: error: no index at {settings.index_dir} (run `clinrag ingest run "
              "PATH...` or `clinrag demo` first)", file=sys.stderr)
        return 1
    app = create_app(settings, config, answerer=answerer)
    # Keep-alive outlives a busy client's pause between requests, so a connection is not
    # closed under a request already on its way.
    uvicorn.run(app, host=config.host, port=config.port, log_level="info",
                timeout_keep_alive=30, timeout_graceful_shutdown=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())

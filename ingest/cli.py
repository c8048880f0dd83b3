"""``ingest`` command line: run, status, verify, remove.

Exit codes: 0 ok; 3 partial (some files or records were refused, the rest is indexed);
1 fatal (nothing was committed: locked, mismatched or unusable index); 2 usage error.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

from clinrag.backend_args import add_backend_args, backend_settings
from clinrag.process import setup_process
from clinrag.settings import Settings, SettingsError, load_settings
from ingest.errors import IndexError_, SourceError
from ingest.report import EXIT_FATAL, EXIT_OK, EXIT_USAGE


def add_index_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--index", type=Path, help="index folder (default: $CLINRAG_HOME/index)")
    parser.add_argument("--home", type=Path, help="clinrag home folder (default: ./data)")
    add_backend_args(parser)


def build_parser(prog: str = "ingest") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description="Build and maintain the clinrag "
                                     "literature index.")
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="ingest files and folders (incremental, atomic)")
    run.add_argument("paths", nargs="+", type=Path, help="PDF, PubMed XML, PubMedQA/BioASQ "
                     "JSON, JSONL, text or Markdown files, or folders of them")
    add_index_options(run)
    run.add_argument("--rebuild", action="store_true",
                     help="rebuild from scratch (all known sources plus PATHs), e.g. after "
                     "changing the embedder or chunker")
    run.add_argument("--prune", action="store_true",
                     help="also drop sources that vanished outside the given PATHs")
    run.add_argument("--checksum", action="store_true",
                     help="hash every file instead of trusting size+mtime")
    run.add_argument("--chunk-size", type=int, help="max tokens per chunk")
    run.add_argument("--chunk-overlap", type=int, help="overlap tokens")
    run.add_argument("--embed-model", help="sentence-transformers name or local path")
    run.add_argument("--precision", choices=["auto", "fp32", "bf16"])
    run.add_argument("--device", choices=["auto", "cpu", "cuda"])
    run.add_argument("--batch-size", type=int)
    run.add_argument("--workers", type=int, help="parser processes")
    run.add_argument("--timeout", type=float, help="seconds allowed to parse one file")
    run.add_argument("--pdf-extractor", choices=["pypdf", "pypdfium2"],
                     help="library that reads PDF pages first (the other is the fallback)")
    run.add_argument("--wait", type=float, help="seconds to wait for another writer")
    run.add_argument("--json", action="store_true", help="print the report as JSON")
    run.add_argument("--quiet", action="store_true", help="no progress bars")

    status = sub.add_parser("status", help="what the index holds")
    add_index_options(status)
    status.add_argument("--json", action="store_true")

    verify = sub.add_parser("verify", help="check checksums and counts of the index")
    add_index_options(verify)
    verify.add_argument("--all", action="store_true", help="verify every kept generation")

    remove = sub.add_parser("remove", help="remove ingested files or documents by path or id")
    remove.add_argument("targets", nargs="+", help="a file path as ingested, or a document id")
    add_index_options(remove)
    remove.add_argument("--json", action="store_true")
    return parser


def settings_from(args: argparse.Namespace) -> Settings:
    get = lambda name: getattr(args, name, None)  # noqa: E731
    return load_settings({
        "home": get("home"),
        "index": get("index"),
        "chunk": {"size": get("chunk_size"), "overlap": get("chunk_overlap")},
        "embed": {"model": get("embed_model"), "precision": get("precision"),
                  "device": get("device"), "batch_size": get("batch_size")},
        "ingest": {"workers": get("workers"), "parse_timeout_s": get("timeout"),
                   "lock_wait_s": get("wait"), "pdf_extractor": get("pdf_extractor")},
        "retrieve": backend_settings(args),
    })


def main(argv: list[str] | None = None, prog: str = "ingest") -> int:
    setup_process()   # before the embedder's libraries are imported (docs/runtime.md)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = build_parser(prog).parse_args(argv)
    try:
        settings = settings_from(args)
        if args.command == "run":
            return _run(args, settings)
        if args.command == "status":
            return _status(args, settings)
        if args.command == "verify":
            return _verify(args, settings)
        if args.command == "remove":
            return _remove(args, settings)
    except SettingsError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (IndexError_, SourceError, OSError) as exc:  # OSError: e.g. an unwritable --index
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return EXIT_FATAL
    return EXIT_FATAL


def _run(args: argparse.Namespace, settings: Settings) -> int:
    from ingest.pipeline import run

    report = run(args.paths, settings, rebuild=args.rebuild, prune=args.prune,
                 checksum=args.checksum, progress=not args.quiet and sys.stderr.isatty())
    if args.json:
        print(json.dumps(report.to_json(), indent=1))
    else:
        print(report.render())
    return report.exit_code


def status_json(settings: Settings) -> dict[str, Any]:
    from ingest.store import IndexStore

    store = IndexStore(settings.index_dir)
    generation = store.open(verify=False)
    failed = [{"path": e.path, "category": e.category, "message": e.message}
              for e in generation.ledger.values() if e.status != "ok"]
    manifest = generation.manifest
    by_source: dict[str, int] = {}
    for meta in generation.documents.values():
        by_source[meta.source] = by_source.get(meta.source, 0) + 1
    return {
        "index": str(store.root),
        "generation": generation.name,
        "generations": store.names(),
        "created": manifest.get("created"),
        "documents": len(generation.documents),
        "chunks": len(generation.chunks),
        "pages": len(generation.pages),
        "files": sum(1 for e in generation.ledger.values() if e.status == "ok"),
        "failed": failed,
        "sources": by_source,
        "embedder": manifest.get("embedder"),
        "chunker": manifest.get("chunker"),
        "excluded_doc_ids": manifest.get("excluded_doc_ids", []),
        "dense_index": manifest.get("ann", {"type": "flat"}),
        **({"milvus": _milvus_status(settings)} if settings.retrieve.backend == "milvus"
           else {}),
    }


def _milvus_status(settings: Settings) -> dict[str, Any]:
    from ingest.store.milvus import describe

    return describe(settings)


def _status(args: argparse.Namespace, settings: Settings) -> int:
    data = status_json(settings)
    if args.json:
        print(json.dumps(data, indent=1))
        return EXIT_OK
    print(f"index      {data['index']}  (generation {data['generation']}, {data['created']})")
    print(f"documents  {data['documents']}  " + ", ".join(
        f"{n} {s}" for s, n in sorted(data["sources"].items())))
    print(f"chunks     {data['chunks']}  from {data['files']} files")
    emb = data["embedder"] or {}
    print(f"embedder   {emb.get('name')} ({emb.get('revision')}, {emb.get('dim')} dims, "
          f"{emb.get('precision')})")
    if "milvus" in data:
        m = data["milvus"]
        print(f"milvus     {m['uri']} alias {m['alias']!r} -> {m['collection'] or 'nothing'}"
              + (f" (generation {m['generation']}, {m['chunks']} chunks"
                 f"{'' if m['complete'] else ', INCOMPLETE'})" if m["collection"] else ""))
    print(f"failed     {len(data['failed'])}")
    for item in data["failed"]:
        print(f"  [{item['category']}] {item['path']}: {item['message']}")
    return EXIT_OK


def _verify(args: argparse.Namespace, settings: Settings) -> int:
    from ingest.store import IndexStore

    store = IndexStore(settings.index_dir)
    names = store.names() if args.all else [store.current_name()]
    bad = 0
    for name in names:
        problems = store.verify(name) if name else [f"no index at {store.root}"]
        if problems:
            bad += 1
            for problem in problems:
                print(f"BROKEN {name}: {problem}")
        else:
            print(f"ok     {name}")
    if settings.retrieve.backend == "milvus" and not args.all:
        # What readers search must be the folder's current generation, whole.
        from ingest.store.milvus import describe

        served, current = describe(settings), store.current_name()
        counts = store.open(verify=False).manifest["counts"]["chunks"] if current else None
        if served.get("generation") != current or served.get("chunks") != counts \
                or not served.get("complete"):
            bad += 1
            print(f"BROKEN milvus: {served['alias']!r} serves {served.get('collection')} "
                  f"({served.get('chunks')} chunks), the index folder is at {current} "
                  f"({counts} chunks); `ingest run` publishes it")
        else:
            print(f"ok     milvus {served['collection']} ({counts} chunks)")
    return EXIT_FATAL if bad else EXIT_OK


def _remove(args: argparse.Namespace, settings: Settings) -> int:
    from ingest.pipeline import remove

    report = remove(args.targets, settings)
    print(json.dumps(report.to_json(), indent=1) if args.json else report.render())
    return report.exit_code


if __name__ == "__main__":
    sys.exit(main())

"""The PubMedQA* corpus the answer models are trained and measured on: the PubMedQA
abstracts plus every BioASQ document, in one index (the trainers' shared options and build).
"""

from __future__ import annotations

from pathlib import Path


def add_corpus_args(parser) -> None:
    """The trainers' PubMedQA* corpus options: the two data files and the index of both."""
    parser.add_argument("--pubmedqa", type=Path,
                        default=Path("../shared/data/pubmedqa/pqal_train.json"))
    parser.add_argument("--bioasq", type=Path, default=Path("../shared/data/bioasq"))
    parser.add_argument("--index", type=Path, default=Path("data/cache/pqa_index"),
                        help="index of the PubMedQA abstracts + BioASQ documents (built if "
                        "missing)")


def ensure_corpus_index(settings, bioasq: Path, pubmedqa: Path) -> None:
    """Build the PubMedQA* index (the PubMedQA abstracts plus every BioASQ document) at
    ``settings.index_dir`` unless it exists."""
    from ingest.store import IndexStore

    if not IndexStore(settings.index_dir).exists():
        from ingest.pipeline import run

        print(f"building the PubMedQA + BioASQ index in {settings.index_dir} ...", flush=True)
        run([bioasq, pubmedqa], settings)

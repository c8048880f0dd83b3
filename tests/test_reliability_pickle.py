"""No pickle anywhere a file is loaded: a static scan of every package, and a planted
malicious pickle in the index folder that must never run."""

from __future__ import annotations

import ast
import json
import pickle
from pathlib import Path

import numpy as np
import pytest

from ingest.cli import main as ingest_main
from ingest.errors import IndexCorrupt
from ingest.store import IndexStore
from ingest.store.files import sha256_file
from ingest.store.generation import SEAL
from tests.conftest import REPO

PACKAGES = ("clinrag", "ingest", "retriever", "generator", "eval")
BANNED_MODULES = {"pickle", "cPickle", "_pickle", "dill", "cloudpickle", "joblib", "shelve",
                  "marshal", "pickletools"}
# Callables that unpickle whatever they are given.
BANNED_CALLS = {"read_pickle", "loads_pickle", "load_pickle"}


def unsafe_loads(source: str, filename: str = "<source>") -> list[str]:
    """Every way ``source`` could unpickle data: banned imports, ``torch.load`` without
    ``weights_only=True``, ``np.load(..., allow_pickle=True)``, ``trust_remote_code=True``."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        where = f"{filename}:{getattr(node, 'lineno', '?')}"
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in BANNED_MODULES:
                    found.append(f"{where} imports {alias.name}")
        elif isinstance(node, ast.ImportFrom):
            if (node.module or "").split(".")[0] in BANNED_MODULES:
                found.append(f"{where} imports from {node.module}")
            elif node.module == "torch" and any(a.name == "load" for a in node.names):
                found.append(f"{where} imports torch.load by name (unscannable)")
        elif isinstance(node, ast.Call):
            name = _call_name(node.func)
            keywords = {k.arg: k.value for k in node.keywords}
            if name.endswith("torch.load"):
                value = keywords.get("weights_only")
                if not (isinstance(value, ast.Constant) and value.value is True):
                    found.append(f"{where} calls torch.load without weights_only=True")
            if name.split(".")[-1] == "load" and name.split(".")[0] in ("np", "numpy"):
                value = keywords.get("allow_pickle")
                if value is not None and not (isinstance(value, ast.Constant)
                                              and value.value is False):
                    found.append(f"{where} calls {name} with allow_pickle={ast.unparse(value)}")
            if name.split(".")[-1] in BANNED_CALLS:
                found.append(f"{where} calls {name}")
            value = keywords.get("trust_remote_code")
            if value is not None and not (isinstance(value, ast.Constant) and value.value is False):
                found.append(f"{where} passes trust_remote_code={ast.unparse(value)}")
    return found


def _call_name(func: ast.AST) -> str:
    parts = []
    while isinstance(func, ast.Attribute):
        parts.append(func.attr)
        func = func.value
    if isinstance(func, ast.Name):
        parts.append(func.id)
    return ".".join(reversed(parts))


def test_the_scanner_finds_each_unsafe_pattern():
    bad = """
import pickle
from joblib import load
import numpy as np, torch
np.load("x.npy", allow_pickle=True)
torch.load("w.pt")
torch.load("w.pt", weights_only=False)
AutoModel.from_pretrained("m", trust_remote_code=True)
pd.read_pickle("f")
from torch import load
"""
    assert len(unsafe_loads(bad)) == 8
    good = """
import numpy as np, torch
np.load("x.npy", allow_pickle=False)
np.load("x.npy")
torch.load("w.pt", weights_only=True, map_location="cpu")
"""
    assert unsafe_loads(good) == []


def test_no_package_loads_pickle():
    files = [p for package in PACKAGES for p in sorted((REPO / package).rglob("*.py"))]
    assert len(files) > 20
    problems = [hit for path in files
                for hit in unsafe_loads(path.read_text("utf-8"), str(path.relative_to(REPO)))]
    assert problems == []


class _Payload:
    """Unpickling this creates the marker folder: proof that pickle data was executed."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        import os

        return os.mkdir, (str(self.marker),)


def test_planted_pickles_in_the_index_are_never_executed(tmp_path, embedder, capsys):
    from tests.test_reliability_corruption import build_two_generations

    settings, corpus, first, second = build_two_generations(tmp_path, embedder)
    store = IndexStore(settings.index_dir)
    folder = store.generations_dir / second
    marker = tmp_path / "PWNED"
    payload = pickle.dumps(_Payload(marker))
    # Pickles where a careless loader might look for them ...
    for name in ("index.pkl", "dense.pkl", "bm25.pkl", "docstore.pkl", "ledger.pkl"):
        (folder / name).write_bytes(payload)
        (store.root / name).write_bytes(payload)
    # ... and an object array with the payload in place of a real BM25 array, with the
    # manifest checksums and seal rewritten to match, as an attacker with write access would.
    target = folder / "bm25_data.npy"
    np.save(target, np.array([_Payload(marker)], dtype=object), allow_pickle=True)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["files"]["bm25_data.npy"] = {"sha256": sha256_file(target),
                                          "bytes": target.stat().st_size}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    (folder / SEAL).write_text(sha256_file(folder / "manifest.json") + "\n")
    assert not marker.exists()

    with pytest.raises(IndexCorrupt, match="bm25|pickle|Object arrays"):
        store.open(second, fallback=False)
    assert store.open().name == first
    assert ingest_main(["verify", "--all", "--index", str(settings.index_dir)]) == 1
    assert ingest_main(["status", "--index", str(settings.index_dir)]) == 0
    (corpus / "new.txt").write_text("Vitamin D did not prevent fractures in older adults.")
    assert ingest_main(["run", str(corpus), "--index", str(settings.index_dir), "--quiet"]) == 0
    from retriever.hybrid import Retriever
    from retriever.types import SearchParams

    hits = Retriever.open(settings, embedder=embedder, reranker=None).search(
        "vitamin D fractures", SearchParams(k=3, rerank=False)).hits
    assert hits
    assert not marker.exists(), "a planted pickle was executed"
    capsys.readouterr()
    # The payload is live: unpickling it (what a careless loader would do) creates the marker.
    pickle.loads(payload)
    assert marker.is_dir()

"""bench/gpu_check.py, the prepared GPU run, on the CPU half it can run anywhere: the same
script, its inputs exported for a machine without FAISS, and the CPU reference searchers."""

from __future__ import annotations

import importlib.util
import json
import sys

from tests.conftest import REPO


def _gpu_check():
    spec = importlib.util.spec_from_file_location("gpu_check", REPO / "bench" / "gpu_check.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_prepared_gpu_run_works_on_the_cpu_and_without_faiss(demo_index, tmp_path,
                                                                  monkeypatch):
    gpu_check = _gpu_check()
    _, index = demo_index
    small = ["--vectors", "3000", "--embed", "40", "--queries", "30",
             "--data", str(tmp_path / "no-bioasq")]
    assert gpu_check.main(["--index", str(index), *small, "--export",
                           str(tmp_path / "inputs")]) == 0
    assert gpu_check.main(["--inputs", str(tmp_path / "inputs"), *small,
                           "--out", str(tmp_path / "out")]) == 0
    result = json.loads((tmp_path / "out" / "gpu_check.json").read_text())
    assert result["vectors"] == 3000 and result["queries"] == 30
    reference = result["search"]["faiss flat, CPU"]
    assert reference["identical_top10"] == 1.0 and reference["qps_batch64"] > 0
    assert result["embed"]["cpu_fp32_chunks_per_s"] > 0
    if result["machine"]["gpu"] is None:
        assert "no CUDA" in result["embed"]["cuda"]
    # The lent machine has no FAISS: the reference is then exact search in numpy, which
    # must find the same top-10 as FAISS's flat index.
    import faiss
    import numpy as np

    base = gpu_check.widened(np.load(tmp_path / "inputs" / "vectors.npy"), 3000)
    queries = base[np.random.default_rng(3).choice(len(base), 25, replace=False)] + 0.01
    flat = faiss.IndexFlatIP(base.shape[1])
    flat.add(base)
    expected = flat.search(np.ascontiguousarray(queries, dtype=np.float32), 10)[1]
    found = gpu_check.numpy_exact(base)(np.ascontiguousarray(queries, dtype=np.float32))
    assert [set(r) for r in found.tolist()] == [set(r) for r in expected.tolist()]
    monkeypatch.setitem(sys.modules, "faiss", None)
    assert gpu_check.main(["--inputs", str(tmp_path / "inputs"), *small,
                           "--out", str(tmp_path / "out2")]) == 0
    alone = json.loads((tmp_path / "out2" / "gpu_check.json").read_text())
    assert alone["faiss"]["version"] is None
    assert alone["search"]["numpy exact, CPU"]["identical_top10"] == 1.0

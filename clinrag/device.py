"""The one place that decides CPU or GPU, and which precision to compute in.

Every model loader and the FAISS store ask here, so "where does this run" has one answer.
"""

from __future__ import annotations

import functools
import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)


def pick_device(requested: str = "auto") -> str:
    """``cuda`` when asked or when auto and CUDA is usable; otherwise ``cpu``."""
    if requested == "cpu":
        return "cpu"
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if requested == "cuda":
        log.warning("CUDA was requested but is not available; running on the CPU")
    return "cpu"


@functools.cache
def cpu_has_bf16() -> bool:
    """True where the CPU has bf16 matrix instructions (AVX512-BF16 or AMX).

    Without them bf16 runs emulated and is slower than fp32, so "auto" must not pick it.
    """
    try:
        flags = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def pick_precision(requested: str, device: str) -> str:
    """Resolve ``auto`` to ``bf16`` or ``fp32`` for ``device``."""
    if requested != "auto":
        return requested
    if device == "cuda" or cpu_has_bf16():
        return "bf16"
    return "fp32"


def configure_cpu_threads(threads: int | None = None) -> int:
    """Give torch and FAISS the same explicit thread count.

    On small machines the two libraries' default pools oversubscribe the cores and multiply
    latency, so both get the same explicit number.
    """
    n = threads or int(os.environ.get("CLINRAG_THREADS", "0")) or (os.cpu_count() or 1)
    import torch

    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
    try:
        import faiss

        faiss.omp_set_num_threads(n)
    except ImportError:  # pragma: no cover - faiss is a core dependency
        pass
    return n


def faiss_gpu_available() -> bool:
    """True when this faiss build has GPU support and a GPU is visible."""
    import faiss

    get_num_gpus = getattr(faiss, "get_num_gpus", None)
    return bool(get_num_gpus and get_num_gpus() > 0)

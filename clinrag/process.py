"""Process set-up, done once before any model library is imported.

The model hubs are read offline (clinrag never downloads at run time), and the loaders are
quiet: no progress bars, no "newly initialized head" warning (the adapter brings the head).
All of it is environment defaults, because huggingface_hub and transformers read them when
they are imported: a loader that set HF_HUB_OFFLINE after another module had imported the hub
library was too late (generator/llm.py had to pass local_files_only for that reason). The
console scripts call ``setup_process()`` first; every model loader calls it too, for code that
uses clinrag as a library (idempotent, no import). A user's own value always wins.

Thread counts are set where a model is placed on the CPU (clinrag/device.py
``configure_cpu_threads``), since only then is it known that the CPU does the work.
"""

from __future__ import annotations

import os
import sys

PROCESS_DEFAULTS = {
    "HF_HUB_OFFLINE": "1",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "TRANSFORMERS_VERBOSITY": "error",
}


def setup_process() -> None:
    for name, value in PROCESS_DEFAULTS.items():
        os.environ.setdefault(name, value)
    # transformers imported before this ran (by the caller) has read its settings already.
    if "transformers" in sys.modules:
        from transformers.utils import logging as hf_logging

        if os.environ["TRANSFORMERS_VERBOSITY"] == "error":
            hf_logging.set_verbosity_error()
        if os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] == "1":
            hf_logging.disable_progress_bar()

"""Load the chunker's tokenizer and the embedder in a background thread while files parse.

Loading is mostly single-threaded Python (importing transformers and sentence-transformers
takes seconds of one core; the weights themselves far less). Done after parsing, it leaves a core
idle; done while the parser processes run, it takes the share of a core they leave free.
One thread loads both, tokenizer first (the first parsed file needs it), so two threads never
import transformers at once.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor

from clinrag.device import configure_cpu_threads
from clinrag.settings import Settings
from ingest.chunk import Chunker


def build_chunker(settings: Settings) -> Chunker:
    """The chunker, counting tokens with the embedder's own tokenizer."""
    from transformers import AutoTokenizer

    from clinrag.models import resolve_model

    tokenizer = AutoTokenizer.from_pretrained(str(resolve_model(settings.embed.model)))
    tokenizer.model_max_length = 1 << 30  # we only count tokens; silence length warnings
    return Chunker.for_tokenizer(settings.chunk, tokenizer)


class ModelPreload:
    """``start()`` begins loading; ``chunker()`` / ``embedder()`` wait for what they need.

    Nothing loads until ``start()`` or the first request, so a run with nothing to parse or
    embed loads nothing. An embedder passed in (tests, a long-lived server) is used as is.
    """

    def __init__(self, settings: Settings, embedder=None):
        self._settings = settings
        self._given = embedder
        self._chunker: Future | None = None
        self._embedder: Future | None = None

    def start(self) -> None:
        if self._chunker is not None:
            return
        pool = ThreadPoolExecutor(1, thread_name_prefix="model-load")
        self._chunker = pool.submit(build_chunker, self._settings)
        if self._given is None:
            from ingest.embed import Embedder

            self._embedder = pool.submit(Embedder.load, self._settings.embed)
        pool.shutdown(wait=False)

    def chunker(self) -> Chunker:
        self.start()
        return self._chunker.result()

    def embedder(self):
        if self._given is not None:
            return self._given
        self.start()
        embedder = self._embedder.result()
        if embedder.device == "cpu":
            # OpenMP thread counts are per calling thread: the loader thread's setting does
            # not reach this one, which runs the encoding (CLINRAG_THREADS would be ignored).
            # Not done in Embedder.encode for every caller: in a forked child of a process
            # that already ran torch (bench/crash.py's fork mode) setting it there hangs.
            configure_cpu_threads()
        return embedder

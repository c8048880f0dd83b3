"""The answerer for the index's current generation, swapped atomically after a re-ingest.

Each request takes the answerer once and keeps it to the end, so a request in flight finishes
on the generation it started on while the next one sees the new generation. Replaced
answerers are kept alive only by the requests still holding them.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from ingest.store import IndexStore

log = logging.getLogger(__name__)


class LiveAnswerer:
    """``current_name`` says which generation is live: by default the index folder's CURRENT;
    with the milvus backend, the generation the server's alias serves
    (retriever/milvus_view.served_generation)."""

    def __init__(self, answerer: Any, index_dir,
                 current_name: Callable[[], str | None] | None = None):
        self._current = answerer
        self._current_name = current_name or IndexStore(index_dir).current_name
        self._seen = self._current_name()  # the generation last acted on
        self._lock = threading.Lock()

    @property
    def current(self) -> Any:
        return self._current

    def get(self) -> Any:
        """The answerer to use for a new request (reopens when CURRENT has moved)."""
        name = self._current_name()
        if name is None or name == self._seen:
            return self._current
        with self._lock:
            if name != self._seen:
                old = self._current
                try:
                    fresh = old.reopen()
                except Exception as exc:  # a broken new generation must not stop service
                    log.error("could not open index generation %s (%r); still serving %s",
                              name, exc, old.generation_id)
                    fresh = old
                self._current = fresh  # one reference assignment: the swap is atomic
                self._seen = name
                if fresh is not old:
                    log.info("now serving index generation %s (was %s)",
                             fresh.generation_id, old.generation_id)
            return self._current

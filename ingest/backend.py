"""Where a committed generation is served besides the index folder (``retrieve.backend``).

With the local backend nothing happens here. With ``milvus`` the server is checked before a
run does any work, and after the run the folder's current generation is published to it
(ingest/store/milvus.py).
"""

from __future__ import annotations

from clinrag.settings import Settings
from ingest.report import RunReport
from ingest.store import IndexStore


def check_backend(settings: Settings) -> None:
    """With the milvus backend, a server that cannot be reached stops the run before any
    work (BackendUnavailable, one line)."""
    if settings.retrieve.backend == "milvus":
        from ingest.store.milvus import MilvusTarget, connect

        connect(MilvusTarget.of(settings))


def publish_current(store: IndexStore, settings: Settings, report: RunReport) -> None:
    """With the milvus backend, the folder's current generation is what the server serves
    after the run (a run that changed nothing still publishes one an interrupted run left
    behind). Still under the writer's lock: two writers never publish at once."""
    if settings.retrieve.backend != "milvus" or not store.exists():
        return
    from ingest.store.generation import document_paths
    from ingest.store.milvus import MilvusTarget, publish

    generation = store.open(verify=False)
    report.published = publish(generation, MilvusTarget.of(settings),
                               settings.ingest.keep_generations,
                               document_paths(generation)).to_json()


def publish_folder(settings: Settings) -> dict | None:
    """Publish the current generation of ``settings.index_dir`` (under the writer's lock; a
    no-op when the server already serves it). Returns the publish record."""
    store = IndexStore(settings.index_dir)
    report = RunReport()
    with store.writer(wait_s=settings.ingest.lock_wait_s):
        publish_current(store, settings, report)
    return report.published

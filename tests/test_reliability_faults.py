"""Fault injection: the k-th write / fsync / rename / file creation fails (ENOSPC, EIO) for
every k of a commit, and for chosen points of whole runs. The previous generation stays
current every time, the error names the step that failed, nothing is left behind, and the
next clean run succeeds."""

from __future__ import annotations

import builtins
import errno
import io
import os
import shutil
from pathlib import Path

import faiss
import pytest

from ingest.cli import main as ingest_main
from ingest.errors import IndexWriteFailed
from ingest.pipeline import run
from ingest.store import IndexStore
from ingest.store.writer import Writer
from tests.test_ingest_pipeline import ABSTRACTS, write_corpus

ERRORS = {"write": errno.ENOSPC, "open": errno.ENOSPC, "fsync": errno.EIO,
          "rename": errno.ENOSPC}


class FaultInjector:
    """Counts I/O operations of one kind in this process; the k-th raises OSError.

    Kinds: ``write`` (every ``write()`` on a file opened for writing, and FAISS's
    ``write_index``), ``open`` (opening a file for writing), ``fsync``, ``rename``
    (``os.replace`` and ``os.rename``).
    """

    def __init__(self, monkeypatch, kind: str, k: int | None):
        self.kind, self.k, self.count, self.fired = kind, k, 0, False
        real_open, real_fsync = io.open, os.fsync
        real_replace, real_rename, real_write_index = os.replace, os.rename, faiss.write_index
        injector = self

        class File:
            def __init__(self, handle):
                self._handle = handle

            def write(self, data):
                injector.tick("write")
                return self._handle.write(data)

            def __enter__(self):
                return self

            def __exit__(self, *exc):
                self._handle.close()

            def __iter__(self):
                return iter(self._handle)

            def __getattr__(self, name):
                return getattr(self._handle, name)

        def fake_open(file, mode="r", *args, **kwargs):
            if any(flag in mode for flag in "wax+"):
                injector.tick("open")
                return File(real_open(file, mode, *args, **kwargs))
            return real_open(file, mode, *args, **kwargs)

        def counted(kind, real):
            def call(*args, **kwargs):
                injector.tick(kind)
                return real(*args, **kwargs)
            return call

        monkeypatch.setattr(builtins, "open", fake_open)
        monkeypatch.setattr(io, "open", fake_open)
        monkeypatch.setattr(os, "fsync", counted("fsync", real_fsync))
        monkeypatch.setattr(os, "replace", counted("rename", real_replace))
        monkeypatch.setattr(os, "rename", counted("rename", real_rename))
        monkeypatch.setattr(faiss, "write_index", counted("write", real_write_index))

    def tick(self, kind: str) -> None:
        if kind != self.kind:
            return
        self.count += 1
        if self.count == self.k:
            self.fired = True
            raise OSError(ERRORS[kind], os.strerror(ERRORS[kind]))


@pytest.fixture(scope="module")
def prepared(tmp_path_factory, embedder):
    """A one-generation index, and the data of the second generation a real run commits."""
    from clinrag.settings import load_settings

    root = tmp_path_factory.mktemp("faults")
    settings = load_settings({"home": root / "home", "index": root / "pristine",
                              "ingest": {"workers": 1}})
    corpus = write_corpus(root / "lib", dict(list(ABSTRACTS.items())[:2]))
    first = run([corpus], settings, embedder=embedder)
    snapshot = root / "snapshot"
    shutil.copytree(settings.index_dir, snapshot)
    write_corpus(corpus, {"colchicine.md": ABSTRACTS["colchicine.md"]})
    captured = {}
    original = Writer.commit

    def capture(self, data, keep):
        captured["data"] = data
        return original(self, data, keep)

    Writer.commit = capture
    try:
        second = run([corpus], settings, embedder=embedder)
    finally:
        Writer.commit = original
    return settings, corpus, snapshot, first.generation, second.generation, captured["data"]


def _fresh(snapshot: Path, dest: Path) -> IndexStore:
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(snapshot, dest)
    return IndexStore(dest)


def _assert_untouched(store: IndexStore, previous: str) -> None:
    assert store.current_name() == previous
    assert store.names() == [previous]
    assert store.verify() == []
    assert not list(store.staging_dir.glob("*")) if store.staging_dir.exists() else True
    assert not list(store.root.glob(".*.tmp"))


def _ops_in_a_commit(prepared, kind: str, tmp_path, monkeypatch) -> int:
    _, _, snapshot, _, _, data = prepared
    store = _fresh(snapshot, tmp_path / "count")
    with store.writer() as writer, monkeypatch.context() as patch:
        injector = FaultInjector(patch, kind, None)
        writer.commit(data, keep=3)
    return injector.count


@pytest.mark.parametrize("kind", ["write", "open", "fsync", "rename"])
def test_every_kth_operation_failing_in_a_commit_keeps_the_previous_generation(
        prepared, kind, tmp_path, monkeypatch):
    settings, _, snapshot, first, second, data = prepared
    total = _ops_in_a_commit(prepared, kind, tmp_path, monkeypatch)
    assert total >= {"write": 20, "open": 12, "fsync": 14, "rename": 3}[kind]
    print(f"{kind}: {total} operations in a commit")
    after_switch = 0
    for k in range(1, total + 1):
        store = _fresh(snapshot, tmp_path / "index")
        with store.writer() as writer:
            with monkeypatch.context() as patch:
                injector = FaultInjector(patch, kind, k)
                try:
                    name = writer.commit(data, keep=3)
                except IndexWriteFailed as exc:
                    message = str(exc)
                else:
                    message = None
            assert injector.fired
            if message is None:
                # Only the directory fsync after CURRENT was replaced: the switch happened,
                # the new generation is live and sound.
                assert kind == "fsync" and store.current_name() == name
                assert store.verify() == []
                after_switch += 1
                continue
            assert errno.errorcode[ERRORS[kind]] in message, message
            assert " failed (" in message and f"{first} stays current" in message, message
            assert any(step in message for step in (
                "writing", "syncing", "renaming", "switching", "creating", "checksumming",
                "verifying")), message
            _assert_untouched(store, first)
            # ... and the same writer's clean retry succeeds.
            name = writer.commit(data, keep=3)
        assert store.current_name() == name and store.verify() == []
        assert {c.chunk_id for c in store.open().chunks} == {c.chunk_id for c in data.chunks}
    assert after_switch <= 1


@pytest.mark.parametrize("kind,k", [("open", 1), ("write", 1), ("write", 9), ("fsync", 5),
                                    ("rename", 1), ("rename", 3)])
def test_faults_in_whole_runs_name_the_failure_and_a_clean_run_recovers(
        prepared, kind, k, tmp_path, monkeypatch, embedder, capsys):
    settings, corpus, snapshot, first, second, data = prepared
    from clinrag.settings import load_settings

    store = _fresh(snapshot, tmp_path / "index")
    local = load_settings({"home": tmp_path / "home", "index": store.root,
                           "ingest": {"workers": 1}})
    with monkeypatch.context() as patch:
        injector = FaultInjector(patch, kind, k)
        code = ingest_main(["run", str(corpus), "--index", str(store.root), "--quiet",
                            "--workers", "1"]) if k == 1 else None
        if code is None:
            with pytest.raises(IndexWriteFailed, match=errno.errorcode[ERRORS[kind]]):
                run([corpus], local, embedder=embedder)
    assert injector.fired
    if code is not None:
        assert code == 1
        err = capsys.readouterr().err
        assert "error:" in err and ("lock file" in err or "could not write generation" in err)
    _assert_untouched(store, first)
    report = run([corpus], local, embedder=embedder)
    assert report.changed and store.current_name() == report.generation != first
    assert {c.chunk_id for c in store.open().chunks} == {c.chunk_id for c in data.chunks}


def test_a_full_disk_for_last_report_does_not_fail_a_committed_run(
        prepared, tmp_path, monkeypatch, embedder, caplog):
    settings, corpus, snapshot, first, _, _ = prepared
    from clinrag.settings import load_settings

    store = _fresh(snapshot, tmp_path / "index")
    local = load_settings({"home": tmp_path / "home", "index": store.root,
                           "ingest": {"workers": 1}})
    real_replace = os.replace

    def replace(src, dst, *args, **kwargs):
        if Path(dst).name == "last_report.json":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_replace(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "replace", replace)
    report = run([corpus], local, embedder=embedder)
    assert report.changed and store.current_name() == report.generation
    assert "last_report.json" in caplog.text
    assert not list(store.root.glob(".*.tmp"))

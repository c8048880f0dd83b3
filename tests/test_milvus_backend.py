"""The Milvus backend against a live server: milvus-lite's gRPC server (PyPI ``milvus-lite``)
started on a free local port for this module, with pymilvus as the client."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from clinrag.settings import load_settings
from retriever.types import Filters, SearchParams

pytest.importorskip("pymilvus", reason="the milvus extra is not installed")
pytest.importorskip("milvus_lite", reason="the milvus extra is not installed")

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "data" / "sample"
QUESTION = "Does semaglutide reduce body weight in adults with obesity?"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def milvus_uri(tmp_path_factory):
    """A milvus-lite server on 127.0.0.1 for this module; stopped after it."""
    port = _free_port()
    exe = shutil.which("milvus-lite") or str(Path(sys.executable).with_name("milvus-lite"))
    data = tmp_path_factory.mktemp("milvus-data")
    log = open(data.parent / f"milvus-{port}.log", "w")
    proc = subprocess.Popen([exe, "server", "--host", "127.0.0.1", "--port", str(port),
                             "--data-dir", str(data)], stdout=log, stderr=subprocess.STDOUT)
    uri = f"http://127.0.0.1:{port}"
    try:
        from ingest.store.milvus import MilvusTarget, connect

        deadline = time.monotonic() + 60
        while True:
            try:
                # Through clinrag's own connect: pymilvus reuses a connection per server, and
                # one opened with its default keep-alive is closed by milvus-lite ("too many
                # pings") a minute later, under whichever test then uses it.
                connect(MilvusTarget(uri, None, None, "unused"), timeout_s=2)
                break
            except Exception:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"milvus-lite did not start on port {port}") from None
                time.sleep(0.3)
        yield uri
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def _settings(root: Path, uri: str, collection: str, **retrieve):
    return load_settings({"home": root, "index": root / "index",
                          "retrieve": {"backend": "milvus", "milvus_uri": uri,
                                       "milvus_collection": collection, **retrieve}})


def _client(uri: str):
    from ingest.store.milvus import MilvusTarget, connect

    return connect(MilvusTarget(uri, None, None, "unused"))


@pytest.fixture(scope="module")
def published(milvus_uri, tmp_path_factory, embedder):
    """The demo corpus ingested with the milvus backend: (settings, first report)."""
    from ingest.pipeline import run

    root = tmp_path_factory.mktemp("demo-milvus")
    settings = _settings(root, milvus_uri, "demo")
    report = run([SAMPLE / "pubmed", SAMPLE / "pdfs"], settings, embedder=embedder)
    return settings, report


def test_ingest_publishes_the_generation_behind_the_alias(published, milvus_uri):
    settings, report = published
    assert report.published["collection"] == f"demo_{report.generation}"
    client = _client(milvus_uri)
    assert client.describe_alias("demo")["collection_name"] == f"demo_{report.generation}"
    counted = client.query("demo", filter="", output_fields=["count(*)"])[0]["count(*)"]
    assert counted == report.counts["chunks"] == report.published["chunks"] > 100
    # Every term of the local BM25 vocabulary with weight went into the term collection.
    assert report.published["terms"] > 1000


def test_search_on_milvus_finds_what_the_local_index_finds(published, embedder):
    from retriever.hybrid import Retriever

    settings, _ = published
    local = Retriever.open(settings.model_copy(update={"retrieve": settings.retrieve.model_copy(
        update={"backend": "local"})}), embedder=embedder, reranker=None)
    remote = Retriever.open(settings, embedder=embedder, reranker=None)
    assert remote.store.name == local.store.name
    for mode in ("dense", "bm25", "hybrid"):
        params = SearchParams(k=5, mode=mode, rerank=False, max_per_doc=1)
        a = [h.doc_id for h in local.search(QUESTION, params).hits]
        b = [h.doc_id for h in remote.search(QUESTION, params).hits]
        assert a[0] == b[0] == "pubmed:90000012", (mode, a, b)
        assert len(set(a) & set(b)) >= 3, (mode, a, b)
    hit = remote.search(QUESTION, SearchParams(k=1, rerank=False)).hits[0]
    assert hit.path.endswith("demo_abstracts.xml") and hit.pmid == "90000012"
    assert hit.year == 2021 and "Randomized Controlled Trial" in hit.publication_types
    # The answerer's term weights and stored vectors are the local ones.
    terms = ["semaglutid", "semaglutide", "weight", "obes", "obesity", "zzzunknown"]
    assert remote.store.idf(terms) == pytest.approx(local.store.idf(terms))
    assert remote.evidence_match(QUESTION, [hit.chunk_id]) == pytest.approx(
        local.evidence_match(QUESTION, [hit.chunk_id]), abs=1e-5)
    assert remote.passage_of(hit.chunk_id) == local.passage_of(hit.chunk_id)


def test_top_five_documents_agree_on_the_demo_questions(published, embedder):
    """The issue's bar: the same top-5 documents as the local index for ordinary questions
    (>= 80% overlap), here the 26 demo questions, as `clinrag search` ranks them."""
    from retriever.hybrid import Retriever

    settings, _ = published
    questions = [q["question"] for q in json.loads(
        (SAMPLE / "demo_questions.json").read_text("utf-8"))["questions"]]
    local = Retriever.open(settings.model_copy(update={"retrieve": settings.retrieve.model_copy(
        update={"backend": "local"})}), embedder=embedder, reranker=None)
    remote = Retriever.open(settings, embedder=embedder, reranker=None)
    params = SearchParams(k=5, rerank=False, max_per_doc=1)
    overlap = [len({h.doc_id for h in local.search(q, params).hits}
                   & {h.doc_id for h in remote.search(q, params).hits}) / 5 for q in questions]
    assert sum(overlap) / len(overlap) >= 0.8, overlap


def test_search_status_and_verify_on_the_command_line(published, milvus_uri, capsys):
    from ingest.cli import main as ingest_main
    from retriever.cli import main as search_main

    settings, report = published
    flags = ["--home", str(settings.home), "--index", str(settings.index_dir),
             "--backend", "milvus", "--milvus-uri", milvus_uri, "--milvus-collection", "demo"]
    assert search_main([QUESTION, "--json", "--k", "3", *flags]) == 0
    found = json.loads(capsys.readouterr().out)
    assert found["generation"] == report.generation
    assert found["hits"][0]["doc_id"] == "pubmed:90000012" and "milvus" in found["timings_ms"]
    assert ingest_main(["status", "--json", *flags[2:]]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["milvus"]["generation"] == status["generation"]
    assert status["milvus"]["chunks"] == status["chunks"] and status["milvus"]["complete"]
    assert ingest_main(["verify", *flags[2:]]) == 0
    assert "ok     milvus" in capsys.readouterr().out


def test_filters_are_applied_in_the_engine(published, embedder):
    from retriever.hybrid import Retriever

    settings, _ = published
    remote = Retriever.open(settings, embedder=embedder, reranker=None)
    only_pdfs = remote.search(QUESTION, SearchParams(k=10, rerank=False,
                                                     filters=Filters(sources=("pdf",)))).hits
    assert only_pdfs and {h.source for h in only_pdfs} == {"pdf"}
    recent = remote.search(QUESTION, SearchParams(k=10, rerank=False,
                                                  filters=Filters(year_min=2022))).hits
    assert recent and all(h.year is not None and h.year >= 2022 for h in recent)
    trials = remote.search(QUESTION, SearchParams(k=10, rerank=False, filters=Filters(
        publication_types=("randomized controlled TRIAL",)))).hits
    assert trials and all("Randomized Controlled Trial" in h.publication_types for h in trials)
    one = remote.search(QUESTION, SearchParams(k=10, rerank=False, filters=Filters(
        doc_ids=("pubmed:90000003",)))).hits
    assert {h.doc_id for h in one} == {"pubmed:90000003"}


def test_filter_expressions_quote_what_they_are_given():
    from retriever.milvus_view import filter_expr

    assert filter_expr(Filters()) == ""
    expr = filter_expr(Filters(year_min=2020, year_max=2023, sources=('pd"f',),
                               publication_types=("Review",), doc_ids=("a\\b",),
                               exclude_retracted=True))
    assert expr == ('year >= 2020 and (year <= 2023 and year >= 0) and source in ["pd\\"f"] '
                    'and array_contains_any(publication_types_lc, ["review"]) and '
                    'doc_id in ["a\\\\b"] and retracted == false')


def test_answers_over_milvus_are_the_local_answers(published, embedder):
    from generator.runtime import Runtime

    settings, _ = published
    runtime = Runtime.load(settings, embedder=embedder)
    remote = runtime.answerer().answer(QUESTION)
    local_settings = settings.model_copy(update={"retrieve": settings.retrieve.model_copy(
        update={"backend": "local"})})
    local = Runtime.load(local_settings, embedder=embedder).answerer().answer(QUESTION)
    # The BM25 runs differ below the top (milvus-lite's standard analyzer does not stem,
    # docs/milvus.md), so the evidence agrees at the head, not necessarily to the fifth.
    assert [s.chunk_id for s in remote.evidence][:3] == [s.chunk_id for s in local.evidence][:3]
    assert remote.sentences and remote.verdict == local.verdict
    text_of = {s.n: s.text for s in remote.evidence}
    for sentence in remote.sentences:    # quotes, each in the passage it cites
        assert all(" ".join(sentence.text.split()) in " ".join(text_of[n].split())
                   for n in sentence.citations), sentence
    assert remote.index_generation == local.index_generation
    assert remote.evidence[0].path and remote.evidence[0].path == local.evidence[0].path


def test_rerun_is_idempotent_and_remove_moves_the_alias(published, milvus_uri, embedder):
    from ingest.pipeline import remove, run

    settings, first = published
    again = run([SAMPLE / "pubmed", SAMPLE / "pdfs"], settings, embedder=embedder)
    assert not again.changed and again.published["unchanged"]
    gone = remove(["pubmed:90000012"], settings)
    client = _client(milvus_uri)
    served = client.describe_alias("demo")["collection_name"]
    assert served == f"demo_{gone.generation}" != f"demo_{first.generation}"
    left = client.query("demo", filter='doc_id == "pubmed:90000012"', output_fields=["chunk_id"])
    assert left == []
    count = client.query("demo", filter="", output_fields=["count(*)"])[0]["count(*)"]
    assert count == gone.counts["chunks"] < first.counts["chunks"]
    # ingest.keep_generations (2 by default) bounds what stays on the server.
    kept = [c for c in client.list_collections() if c.startswith("demo_g")
            and not c.endswith("_terms")]
    assert len(kept) <= settings.ingest.keep_generations


def _cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ingest.cli", *args], capture_output=True,
                          text=True, timeout=timeout, cwd=REPO)


def test_unreachable_server_is_one_line_and_commits_nothing(tmp_path):
    port = _free_port()
    proc = _cli("run", str(SAMPLE / "pubmed"), "--index", str(tmp_path / "index"),
                "--backend", "milvus", "--milvus-uri", f"http://127.0.0.1:{port}", "--quiet")
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "cannot reach the Milvus server" in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "index" / "CURRENT").exists()


def test_a_writer_killed_during_the_milvus_write_leaves_readers_on_the_old_one(
        milvus_uri, tmp_path):
    index = tmp_path / "index"
    common = ["--index", str(index), "--backend", "milvus", "--milvus-uri", milvus_uri,
              "--milvus-collection", "crash", "--quiet"]
    first = _cli("run", str(SAMPLE / "pubmed" / "demo_abstracts.xml"), *common, "--json")
    assert first.returncode == 0, first.stderr
    served = json.loads(first.stdout)["published"]["collection"]
    # The second run adds the PDFs, commits locally, then is killed inside the Milvus write.
    killed = subprocess.run([sys.executable, "-m", "ingest.store.faults",
                             "milvus-half-written", "run", str(SAMPLE / "pdfs"), *common],
                            capture_output=True, text=True, timeout=300, cwd=REPO)
    assert killed.returncode == -9
    client = _client(milvus_uri)
    assert client.describe_alias("crash")["collection_name"] == served
    settings = _settings(tmp_path, milvus_uri, "crash")
    from retriever.milvus_view import MilvusView

    assert MilvusView.open(settings).name == served.removeprefix("crash_")
    # The next run, with nothing new, publishes the generation the killed one left behind.
    healed = _cli("run", str(SAMPLE / "pdfs"), *common, "--json")
    assert healed.returncode == 0, healed.stderr
    report = json.loads(healed.stdout)
    assert not report["changed"] and not report["published"]["unchanged"]
    now = client.describe_alias("crash")["collection_name"]
    assert now == f"crash_{report['generation']}" != served
    count = client.query("crash", filter="", output_fields=["count(*)"])[0]["count(*)"]
    assert count == report["counts"]["chunks"]


def test_a_collection_of_another_schema_is_refused(milvus_uri, tmp_path, embedder):
    from pymilvus import DataType, MilvusClient

    from ingest.errors import IndexMismatch
    from retriever.milvus_view import MilvusView

    client = _client(milvus_uri)
    schema = MilvusClient.create_schema(auto_id=False)
    schema.add_field("id", DataType.INT64, is_primary=True)
    schema.add_field("v", DataType.FLOAT_VECTOR, dim=2)
    params = client.prepare_index_params()
    params.add_index(field_name="v", index_type="FLAT", metric_type="L2")
    client.create_collection("other_g000001", schema=schema, index_params=params)
    client.create_alias("other_g000001", "other")
    with pytest.raises(IndexMismatch, match="not written by this version of clinrag"):
        MilvusView.open(_settings(tmp_path, milvus_uri, "other"))


def test_eval_runs_on_milvus_with_the_local_figures(milvus_uri, bioasq_index, embedder,
                                                    tmp_path):
    """`clinrag eval` on the milvus backend: the corpus folder is published, searched in the
    engine and scored against the folder's tables; the figures match the local run's."""
    from eval.corpus import milvus_alias_for
    from eval.harness import EvalConfig, evaluate

    local_settings, path, _ = bioasq_index
    remote_settings = local_settings.model_copy(update={"retrieve": local_settings.retrieve
                                                        .model_copy(update={
                                                            "backend": "milvus",
                                                            "milvus_uri": milvus_uri,
                                                            "milvus_collection": "bioasq"})})
    figures = {}
    for name, settings in (("local", local_settings), ("milvus", remote_settings)):
        config = EvalConfig("bioasq", path, limit=20, index=settings.index_dir, mode="hybrid",
                            rerank=False, answers=False, out=tmp_path / name, progress=False)
        figures[name] = evaluate(config, settings).metrics
    assert figures["milvus"]["n"] == figures["local"]["n"] == 20
    assert figures["milvus"]["ndcg@10"] == pytest.approx(figures["local"]["ndcg@10"], abs=0.05)
    assert _client(milvus_uri).describe_alias("bioasq")["collection_name"].startswith("bioasq_g")
    # A benchmark corpus the harness builds itself is served under its own alias.
    derived = milvus_alias_for(remote_settings, tmp_path / "bioasq-1234abcd")
    assert derived.retrieve.milvus_collection == "bioasq_eval_bioasq_1234abcd"


def test_the_server_switches_to_a_newly_published_generation(milvus_uri, tmp_path, embedder):
    """`clinrag serve` on the milvus backend: the next request after a publish is answered
    over the new generation (server/live.py asks the alias), a request in flight is not."""
    from ingest.pipeline import run
    from retriever.milvus_view import served_generation
    from server.live import LiveAnswerer

    settings = _settings(tmp_path, milvus_uri, "live")
    first = run([SAMPLE / "pubmed"], settings, embedder=embedder)

    class Opened:
        def __init__(self, generation: str):
            self.generation_id = generation

        def reopen(self):
            from retriever.milvus_view import MilvusView

            return Opened(MilvusView.open(settings).name)

    live = LiveAnswerer(Opened(first.generation), settings.index_dir,
                        current_name=served_generation(settings, every_s=0.0))
    in_flight = live.get()
    assert in_flight.generation_id == first.generation
    second = run([SAMPLE / "pubmed", SAMPLE / "pdfs"], settings, embedder=embedder)
    assert second.generation != first.generation
    assert live.get().generation_id == second.generation
    assert in_flight.generation_id == first.generation

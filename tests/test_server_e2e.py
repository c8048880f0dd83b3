"""The service end to end: the real Answerer over the demo corpus, served by uvicorn on a free
loopback port, driven by httpx, the official openai client and headless Chromium.

The models and the index are opened once for the whole module.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import httpx
import pytest

from clinrag.settings import load_settings
from generator.types import DISCLAIMER
from server import ServeConfig, create_app
from server.background import BackgroundServer
from server.keys import KeyRing, parse_env_keys
from tests.conftest import SAMPLE

pytestmark = pytest.mark.slow

READER, ADMIN = "reader-key-e2e-1", "admin-key-e2e-1"
R = {"Authorization": f"Bearer {READER}"}
A = {"Authorization": f"Bearer {ADMIN}"}
QUESTION = "Do SGLT2 inhibitors reduce hospitalisation for heart failure?"
CHROMIUM = Path("/usr/bin/chromium")
# Read at import: the autouse fixture in conftest clears CLINRAG_* variables for each test.
ARTEFACTS = os.environ.get("CLINRAG_ARTEFACTS")


@pytest.fixture(scope="module")
def served(tmp_path_factory, embedder):
    from generator.answer import Answerer
    from ingest.pipeline import run
    from retriever.hybrid import Retriever

    root = tmp_path_factory.mktemp("serve-demo")
    settings = load_settings({"home": root, "index": root / "index",
                              "answer": {"generator": "extractive"}})
    run([SAMPLE / "pubmed", SAMPLE / "pdfs"], settings, embedder=embedder)
    answerer = Answerer.open(settings, retriever=Retriever.open(settings, embedder=embedder))
    config = ServeConfig(workers=2, queue_size=8, rate_per_minute=10_000, burst=1000)
    app = create_app(settings, config, answerer=answerer,
                     keys=KeyRing(parse_env_keys(f"reader:{READER},admin:{ADMIN}")))
    with BackgroundServer(app) as server:
        with httpx.Client(base_url=server.url, timeout=120) as client:
            yield app, server, client


def test_ask_cites_passages_that_the_document_view_shows(served):
    app, _, client = served
    response = client.post("/v1/ask", json={"question": QUESTION}, headers=R)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert not answer["abstained"] and answer["sentences"]
    assert answer["index_generation"] == app.state.live.current.generation_id
    assert answer["disclaimer"] == DISCLAIMER
    assert "pubmed:90000002" in {e["doc_id"] for e in answer["evidence"][:3]}
    by_n = {e["n"]: e for e in answer["evidence"]}
    cited = {n for s in answer["sentences"] for n in s["citations"]}
    assert cited and cited <= set(by_n)
    for n in cited:
        source = by_n[n]
        view = client.get(f"/v1/documents/{source['doc_id']}",
                          params={"chunk": source["chunk_id"]}, headers=R)
        assert view.status_code == 200, view.text
        page = view.json()["page"]
        assert page["text"][source["start"]:source["end"]] == source["text"]
        if source["page_number"] is not None:
            assert page["pdf_page"] == source["page_number"]


def test_search_index_and_pdf_pages(served):
    _, _, client = served
    hits = client.post("/v1/search", json={"query": "anticoagulation chronic kidney disease",
                                           "k": 5, "filters": {"sources": ["pdf"]}},
                       headers=R).json()["hits"]
    assert hits and all(h["source"] == "pdf" for h in hits)
    pdf = hits[0]
    doc = client.get(f"/v1/documents/{pdf['doc_id']}", params={"page": pdf["page_number"]},
                     headers=R).json()
    assert doc["source"] == "pdf" and len(doc["pages"]) >= 2
    assert pdf["text"] in doc["page"]["text"]
    assert client.get(f"/v1/documents/{pdf['doc_id']}", params={"page": 99},
                      headers=R).status_code == 404
    assert client.get("/v1/documents/pubmed:1", headers=R).status_code == 404
    index = client.get("/v1/index", headers=R).json()
    assert index["counts"]["documents"] == 33 and index["sources"] == {"pdf": 3, "pubmed": 30}
    assert index["embedder"]["name"] and "verdict" in index["models"]


def test_openai_client_round_trip(served):
    import openai

    _, server, _ = served
    client = openai.OpenAI(base_url=server.url + "/v1", api_key=READER, max_retries=0,
                           timeout=120)
    assert [m.id for m in client.models.list()] == ["clinrag"]
    messages = [{"role": "system", "content": "Be brief."},
                {"role": "user", "content": QUESTION}]
    completion = client.chat.completions.create(model="clinrag", messages=messages)
    content = completion.choices[0].message.content
    answer = completion.model_extra["clinrag"]
    assert answer["question"] == QUESTION and not answer["abstained"]
    assert "[1]" in content or "[2]" in content
    assert "Sources:" in content and content.endswith(DISCLAIMER)

    stream = client.chat.completions.create(model="clinrag", messages=messages, stream=True)
    chunks = list(stream)
    streamed = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert streamed == content  # the answerer is deterministic
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert chunks[-1].model_extra["clinrag"]["evidence"] == answer["evidence"]

    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=server.url + "/v1", api_key="wrong-key-123",
                      max_retries=0).models.list()
    with pytest.raises(openai.UnprocessableEntityError):
        client.chat.completions.create(model="clinrag", messages=[
            {"role": "user", "content": "x" * 2001}])
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="gpt-4o", messages=messages)


@pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is absent (apt-get "
                    "install chromium; .ci/run does this when it can reach a mirror)")
def test_web_page_in_headless_chromium(served, tmp_path):
    from playwright.sync_api import sync_playwright

    _, server, _ = served
    artefacts = Path(ARTEFACTS or tmp_path)
    artefacts.mkdir(parents=True, exist_ok=True)
    errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM),
                                             args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 390, "height": 844})  # a phone
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(server.url + "/")
            page.fill("#key-input", "not-a-key-000")
            page.click("#key-form button")
            page.wait_for_selector("#key-help:has-text('not accepted')")
            page.fill("#key-input", READER)
            page.click("#key-form button")
            page.wait_for_selector("#ask-panel:not([hidden])")
            assert "pdf" in page.inner_text("#source")
            page.fill("#question", QUESTION)
            page.click("#ask-button")
            page.wait_for_selector("#statements li .cite", timeout=120_000)
            assert page.inner_text("#disclaimer") == DISCLAIMER
            assert page.locator("#evidence li").count() >= 3
            page.locator("#statements li .cite").first.click()
            quote = page.wait_for_selector(".quote blockquote")
            assert len(quote.inner_text()) > 40
            page.locator(".quote .open-doc").first.click()
            mark = page.wait_for_selector("#doc-text mark")
            assert mark.inner_text().split() == quote.inner_text().split()
            assert page.evaluate("document.documentElement.scrollWidth") <= 390  # no overflow
            page.screenshot(path=str(artefacts / "web_answer.png"), full_page=True)
            # Filters that exclude every document leave nothing to answer from: abstention.
            page.fill("#year-min", "1000")
            page.fill("#year-max", "1001")
            page.click("#ask-button")
            page.wait_for_selector("#abstention:not([hidden])", timeout=120_000)
            assert "No answer" in page.inner_text("#abstention")
            page.screenshot(path=str(artefacts / "web_abstention.png"), full_page=True)
        finally:
            browser.close()
    assert not errors
    assert (artefacts / "web_answer.png").stat().st_size > 10_000


def test_ingest_by_upload_and_by_path_swaps_the_generation(served, tmp_path):
    app, _, client = served
    before = client.get("/v1/index", headers=R).json()["generation"]
    note = ("Fictional bedside note on zorbitamab\n\nZorbitamab lowered the frequency of "
            "migraine attacks in adults with chronic migraine in a fictional pilot study.")
    response = client.post("/v1/ingest", files=[("files", ("zorbitamab.txt", note.encode()))],
                           headers=A)
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["generation"] != before and report["summary"] == {"ok": 1}
    after = client.get("/v1/index", headers=R).json()
    assert after["generation"] == report["generation"] and after["counts"]["documents"] == 34
    hits = client.post("/v1/search", json={"query": "zorbitamab migraine", "k": 1},
                       headers=R).json()
    assert hits["generation"] == report["generation"]
    assert "Zorbitamab" in hits["hits"][0]["text"]

    library = app.state.config.library
    shutil.copy(SAMPLE / "pdfs" / "demo_af_anticoagulation_ckd.pdf", library / "af.pdf")
    response = client.post("/v1/ingest", json={"paths": ["af.pdf"]}, headers=A)
    assert response.status_code == 200, response.text
    # The same PDF is already indexed (same content, same chunk ids): nothing new to add.
    assert response.json()["summary"] == {"ok": 1}
    assert client.post("/v1/ingest", json={"paths": ["../af.pdf"]},
                       headers=A).status_code == 400
    assert client.post("/v1/ingest", json={"paths": ["af.pdf"]}, headers=R).status_code == 403


class _BothSearchFirst:
    """The answerer's retriever, made to finish two searches before either request goes on:
    the interleaving under which a trace kept on a shared retriever (as before) is reported
    by the wrong request."""

    def __init__(self, inner):
        self._inner = inner
        self._barrier = __import__("threading").Barrier(2, timeout=60)

    def search(self, *args, **kwargs):
        result = self._inner.search(*args, **kwargs)
        self._barrier.wait()
        return result

    def __getattr__(self, name):
        return getattr(self._inner, name)


def test_concurrent_requests_report_their_own_timings_and_evidence(served):
    """Two questions at once on the server's two workers: one filtered to a year with no
    paper (no passage, so nothing reranked), one to a single paper. Each answer's retrieval
    timings and evidence must be its own."""
    from concurrent.futures import ThreadPoolExecutor

    app, _, client = served
    answerer = app.state.live.get()
    plain = answerer.retriever
    answerer.retriever = _BothSearchFirst(plain)
    bodies = [{"question": QUESTION, "filters": {"year_min": 2999}},
              {"question": QUESTION, "filters": {"doc_ids": ["pubmed:90000002"]}}]
    try:
        with ThreadPoolExecutor(2) as pool:
            responses = list(pool.map(
                lambda body: client.post("/v1/ask", json=body, headers=R), bodies))
    finally:
        answerer.retriever = plain
    none, one = (r.json() for r in responses)
    assert [r.status_code for r in responses] == [200, 200], [r.text for r in responses]
    assert none["abstained"] and none["evidence"] == []
    assert "retrieve.rerank" not in none["timings_ms"], none["timings_ms"]   # nothing to rerank
    assert one["evidence"] and {e["doc_id"] for e in one["evidence"]} == {"pubmed:90000002"}
    assert "retrieve.rerank" in one["timings_ms"] and "retrieve.bm25" in one["timings_ms"]
    for answer in (none, one):
        steps = sum(v for k, v in answer["timings_ms"].items() if k.startswith("retrieve."))
        assert steps <= answer["timings_ms"]["retrieve"] + 1.0, answer["timings_ms"]

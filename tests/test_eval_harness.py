"""The harness end to end on a real index: regression figures, resume, outputs, CLI."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from eval.runfolder import RunFolder, RunFolderError
from generator.types import Answer, Source, Statement
from retriever.types import Filters, SearchParams

EXPECTED = Path(__file__).parent / "data" / "eval" / "expected_bioasq10b1_20.json"


def test_run_folder_appends_resumes_and_refuses_other_settings(tmp_path):
    folder = RunFolder(tmp_path / "run")
    assert folder.start({"mode": "bm25"}) == []
    folder.append({"id": "a", "x": 1})
    folder.append({"id": "b", "x": np.float32(2.0)})
    # A kill in the middle of a write leaves a torn line: it is cut off, the rest kept.
    with open(tmp_path / "run" / "per_example.jsonl", "a") as handle:
        handle.write('{"id": "c", "x"')
    rows = RunFolder(tmp_path / "run").start({"mode": "bm25"})
    assert [r["id"] for r in rows] == ["a", "b"] and rows[1]["x"] == 2.0
    assert (tmp_path / "run" / "per_example.jsonl").read_text().endswith("}\n")
    with pytest.raises(RunFolderError, match=r"different settings \(mode\)"):
        RunFolder(tmp_path / "run").start({"mode": "hybrid"})
    assert RunFolder(tmp_path / "run").start({"mode": "hybrid"}, fresh=True) == []


class ExtractiveStub:
    """A small deterministic answerer over the real retriever: quotes the top passage.

    It stands in for ``generator.answer.Answerer`` (same call signature, same Answer record),
    so the harness's plumbing is tested without the generator's models.
    """

    def __init__(self, retriever, stop_after: int | None = None):
        self.retriever = retriever
        self.stop_after = stop_after
        self.calls: list[dict] = []
        self.models = {"stub": "1"}

    def answer(self, question, *, filters=Filters(), k=None, mode=None, rerank=None,
               verify=None, max_per_doc=None) -> Answer:
        if self.stop_after is not None and len(self.calls) >= self.stop_after:
            raise KeyboardInterrupt  # the run is killed here
        self.calls.append({"filters": filters, "k": k, "mode": mode, "rerank": rerank})
        params = SearchParams(k=k or 3, mode="bm25", rerank=False, filters=filters)
        hits = self.retriever.search(question, params).hits
        evidence = [Source(n=i + 1, chunk_id=h.chunk_id, doc_id=h.doc_id, title=h.title,
                           text=h.text, page_number=h.page_number, section=h.section,
                           start=h.start, end=h.end, score=h.score)
                    for i, h in enumerate(hits)]
        sentences = [Statement(hits[0].text, (1,), 1.0, "extractive")] if hits else []
        yes = 1 / (1 + np.exp(-hits[0].score / 10)) if hits else 0.0
        return Answer(question=question, verdict="yes" if yes >= 0.5 else "no",
                      confidence=float(max(yes, 1 - yes)),
                      verdict_probs={"yes": float(yes), "no": float(1 - yes)},
                      sentences=sentences, evidence=evidence, abstained=not hits,
                      abstention_reason=None if hits else "no evidence",
                      index_generation=self.retriever.generation.name, models=self.models)


def _word_judge(pairs):
    words = lambda text: set(re.findall(r"\w+", text.lower()))  # noqa: E731
    return np.array([float(words(s) <= words(p)) for s, p in pairs])


@pytest.fixture(scope="module")
def bioasq_retriever(bioasq_index, embedder):
    from retriever.hybrid import Retriever

    settings, path, _ = bioasq_index
    return settings, path, Retriever.open(settings, embedder=embedder, reranker=None)


@pytest.mark.data
@pytest.mark.slow
def test_retrieval_regression_on_20_bioasq_questions(bioasq_retriever, tmp_path):
    """bm25 and hybrid (no rerank) on the first 20 questions of 10B1 against stored figures."""
    from eval.harness import EvalConfig, evaluate

    settings, path, retriever = bioasq_retriever
    expected = json.loads(EXPECTED.read_text())
    for mode, figures in expected["runs"].items():
        config = EvalConfig("bioasq", path, limit=20, index=settings.index_dir, mode=mode,
                            rerank=False, answers=False, out=tmp_path / mode, progress=False)
        result = evaluate(config, settings, retriever=retriever)
        assert result.metrics["n"] == 20
        for key, value in figures.items():
            assert result.metrics[key] == pytest.approx(value, abs=expected["tolerance"]), key


@pytest.mark.data
@pytest.mark.slow
def test_interrupted_answer_run_resumes_and_writes_every_output(bioasq_retriever, tmp_path):
    from eval.cli import main
    from eval.harness import EvalConfig, Judge, evaluate

    settings, path, retriever = bioasq_retriever
    judge = Judge(_word_judge, "word-judge", "1", 0.5)
    config = EvalConfig("bioasq", path, limit=6, index=settings.index_dir, mode="bm25",
                        rerank=False, out=tmp_path / "run", progress=False)
    killed = ExtractiveStub(retriever, stop_after=3)
    with pytest.raises(KeyboardInterrupt):
        evaluate(config, settings, answerer=killed, judge=judge, retriever=retriever)
    assert len((tmp_path / "run" / "per_example.jsonl").read_text().splitlines()) == 3

    resumed = ExtractiveStub(retriever)
    result = evaluate(config, settings, answerer=resumed, judge=judge, retriever=retriever)
    assert len(resumed.calls) == 3                      # only the unfinished questions
    assert result.meta["resumed"] == 3 and result.metrics["n"] == 6
    out = tmp_path / "run"
    for name in ("metrics.json", "per_example.jsonl", "run.trec", "report.md", "report.html",
                 "index_manifest.json", "settings.json", "per_example_scores.json"):
        assert (out / name).exists(), name
    rows = [json.loads(line) for line in (out / "per_example.jsonl").read_text().splitlines()]
    assert [r["id"] for r in rows] == [json.loads(line)["id"] for line in
                                       (out / "per_example.jsonl").read_text().splitlines()]
    assert len({r["id"] for r in rows}) == 6
    for row in rows:
        assert {"id", "question", "prediction", "gold", "cited_chunk_ids", "retrieved",
                "evidence_doc_ids", "answer"} <= set(row)
        Answer.from_json(row["answer"])                 # the whole answer is kept, lossless
    metrics = json.loads((out / "metrics.json").read_text())
    for key in ("ndcg@10", "recall@10", "recall@100", "mrr", "citation_recall",
                "citation_precision", "abstention_rate", "lexical_overlap", "rouge1"):
        assert metrics[key] is not None and len(metrics[f"{key}_ci"]) == 2, key
    # The stub quotes its first passage and cites it: every sentence is supported.
    assert metrics["citation_recall"] == 1.0 and metrics["citation_precision"] == 1.0
    assert metrics["meta"]["citation_judge"] == {"name": "word-judge", "version": "1",
                                                 "threshold": 0.5}
    html = (out / "report.html").read_text()
    assert html.count("data:image/png;base64,") >= 2
    assert "| ndcg@10 |" in (out / "report.md").read_text()
    # Settings differ from the folder's run: refused with a clear error.
    code = main(["run", "bioasq", "--data", str(path), "--limit", "6", "--index",
                 str(settings.index_dir), "--mode", "hybrid", "--no-rerank", "--no-answer",
                 "--out", str(out), "--quiet", "--home", str(settings.home)])
    assert code == 1


@pytest.mark.data
@pytest.mark.slow
def test_context_setting_restricts_evidence_to_the_gold_documents(bioasq_retriever, tmp_path):
    from eval.harness import EvalConfig, evaluate

    settings, path, retriever = bioasq_retriever
    stub = ExtractiveStub(retriever)
    config = EvalConfig("bioasq", path, setting="context", limit=4, index=settings.index_dir,
                        rerank=False, out=tmp_path / "ctx", progress=False)
    result = evaluate(config, settings, answerer=stub, judge=None, retriever=retriever)
    assert "ndcg@10" not in result.metrics               # nothing retrieved to score
    rows = [json.loads(line) for line in (tmp_path / "ctx" / "per_example.jsonl").open()]
    for call, row in zip(stub.calls, rows):
        assert set(call["filters"].doc_ids) == set(row["relevant_doc_ids"])
        assert set(row["evidence_doc_ids"]) <= set(row["relevant_doc_ids"])


@pytest.mark.data
@pytest.mark.slow
def test_cli_runs_the_real_answerer_with_the_chosen_generator(bioasq_retriever, tmp_path):
    from eval.cli import main

    settings, path, _ = bioasq_retriever
    out = tmp_path / "extractive"
    assert main(["run", "bioasq", "--data", str(path), "--limit", "3", "--index",
                 str(settings.index_dir), "--generator", "extractive", "--out", str(out),
                 "--quiet", "--json", "--home", str(settings.home)]) == 0
    saved = json.loads((out / "settings.json").read_text())["settings"]
    assert saved["answer"]["generator"] == "extractive"
    rows = [json.loads(line) for line in (out / "per_example.jsonl").open()]
    assert len(rows) == 3
    for row in rows:
        answer = Answer.from_json(row["answer"])
        assert answer.models["generator"] == "extractive"
        assert answer.abstained or all(s.origin == "extractive" for s in answer.sentences)
        assert "p_unanswerable" in answer.answerability
    # The judge is the answerer's own support model, pinned in the metrics.
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["meta"]["citation_judge"]["name"].startswith("clinrag-support:")


def test_cli_reports_bad_input_clearly(tmp_path, capsys):
    from clinrag.cli import main

    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps({"123": {"QUESTION": "q?", "CONTEXTS": ["c"]}}))
    assert main(["eval", "run", "pubmedqa", "--data", str(broken), "--quiet",
                 "--home", str(tmp_path)]) == 1
    assert "PMID 123: missing field 'final_decision'" in capsys.readouterr().err
    assert main(["eval", "run", "jsonl", "--data", str(Path(__file__).parent / "data" / "eval"
                                                       / "mc.jsonl"),
                 "--quiet", "--home", str(tmp_path)]) == 1
    assert "no corpus of its own" in capsys.readouterr().err
    assert main(["eval", "compare", str(tmp_path / "a"), str(tmp_path / "b")]) == 1
    assert "no metrics.json" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main(["eval", "run", "pubmedqa", "--data", str(broken), "--limit", "0"])
    assert exit_info.value.code == 2

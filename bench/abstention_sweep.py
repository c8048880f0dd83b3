"""How the verdict model's P(insufficient) and the reranker's best score alone trade false
abstentions for missed ones: the baseline the answerability gate replaced.

For PubMedQA questions of one split, retrieve (hybrid + rerank) from the PubMedQA* index and
score the top passages twice: as retrieved (the source abstract among them: answerable) and
with the source abstract's passages removed (unanswerable). Records the verdict model's
P(insufficient) and the reranker's best score, then prints the false-abstention and
abstention rates of every (abstain_threshold, min_evidence_score) pair. No pair reaches both
targets (docs/answering.md); the gate fitted by `clinrag train answerability` does, and its
own train/validation/test figures are in data/models/answerability/README.md.

    python bench/abstention_sweep.py train 150
    python bench/abstention_sweep.py val 56
"""
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from clinrag.settings import load_settings
from clinrag.pubmedqa import load_pubmedqa, split_records
from generator.verdict import VerdictModel
from retriever.hybrid import Retriever
from retriever.types import SearchParams

split_name = sys.argv[1]
limit = int(sys.argv[2])
records = split_records(load_pubmedqa(REPO.parent / "shared/data/pubmedqa/pqal_train.json"),
                        split_name)[:limit]
settings = load_settings({"index": REPO / "data/cache/pqa_index"})
r = Retriever.open(settings)
v = VerdictModel.load()
rows = []
t = time.time()
for rec in records:
    hits = r.search(rec.question, SearchParams(k=12)).hits
    full = hits[:5]
    removed = [h for h in hits if h.doc_id != rec.doc_id][:5]
    for name, hs in (("full", full), ("removed", removed)):
        if name == "full" and rec.doc_id not in {h.doc_id for h in hs}:
            continue
        p = v.predict(rec.question, [r.passage_of(h.chunk_id) for h in hs])
        sc = [h.scores.get("rerank", 0) for h in hs]
        rows.append({"pmid": rec.pmid, "set": name, "p_insuff": p.probs["insufficient"],
                     "top": sc[0], "gap": sc[0] - sc[1] if len(sc) > 1 else 0.0,
                     "gold": rec.decision, "verdict": p.among(("yes","no","maybe"))[0]})
print(f"{len(records)} questions in {time.time() - t:.0f}s", file=sys.stderr)
out = REPO / "bench/results" / f"abstention_{split_name}.json"
out.write_text(json.dumps(rows))
full = [r for r in rows if r["set"] == "full"]
removed = [r for r in rows if r["set"] == "removed"]
print(f"{len(full)} answerable (source in the top 5), {len(removed)} with the source removed")
print("| abstain_threshold | min_evidence_score | false abstention | abstention (removed) |")
print("|---|---|---|---|")
for t in (0.2, 0.3, 0.4, 0.5):
    for m in (None, -1.0, 0.0, 0.5, 1.0):
        def abstains(r):
            return r["p_insuff"] >= t or (m is not None and r["top"] < m)
        print(f"| {t} | {m} | {sum(map(abstains, full)) / len(full):.3f} | "
              f"{sum(map(abstains, removed)) / len(removed):.3f} |")

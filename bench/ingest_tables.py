"""The derived figures and the Markdown tables of the ingest bench: rates and time shares per
run, the result saved as JSON with its tables next to it, and ``--render`` of a saved result.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from bench.ingest_corpora import CORPORA, SYSTEMS_OF


def save(result: dict, out: Path) -> None:
    """Write the result as JSON and its tables as Markdown next to it, and print the tables."""
    markdown = to_markdown(result)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1, sort_keys=True) + "\n", "utf-8")
    out.with_suffix(".md").write_text(markdown, "utf-8")
    print(markdown)
    print(f"[bench] wrote {out} and {out.with_suffix('.md')}", file=sys.stderr)


def rerender(path: Path) -> None:
    """Recompute the derived figures of a saved result and rewrite its JSON and Markdown."""
    result = json.loads(path.read_text("utf-8"))
    for corpus in CORPORA:
        for system in SYSTEMS_OF[corpus]:
            derive(result["runs"][system][corpus])
    save(result, path)


def derive(run: dict) -> None:
    """Add the figures the tables show (rates, time shares, overhead) to one run, in place."""
    wall = run["wall_s"]
    run["chunks_per_s"] = run["chunks"] / wall
    run["docs_per_s"] = run["input_documents"] / wall
    run["chars_per_s"] = run["input_chars"] / wall
    run["chars_per_chunk"] = run["chunk_chars"] / run["chunks"] if run["chunks"] else 0.0
    t = run["timings_s"]
    shares = {k: t.get(k, 0.0) / wall for k in ("parse", "chunk", "embed", "write")}
    shares["other"] = max(0.0, 1.0 - sum(shares.values()))
    run["time_share"] = shares
    # The same run's own encode time as the reference: free of the run-to-run noise (a few
    # percent here) that a separate pure-embedding process adds to the comparison.
    run["overhead_in_run"] = (wall - t["embed"]) / t["embed"] if t.get("embed") else None


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:+.0f}%"


def to_markdown(r: dict) -> str:
    label = {"baseline": "LangChain naive (fp32)", "ours": "clinrag (bf16, default)",
             "ours-fp32": "clinrag (fp32)", "ours-pdfium": "clinrag (bf16, pypdfium2 first)"}
    m = r["machine"]
    lines = [
        "# Ingest throughput: clinrag vs naive LangChain"
        + (f" (prefix: --limit-docs {r['limit_docs']})" if r["limit_docs"] else ""),
        "",
        f"{r['started']}, {m['cpus']} CPUs, {m['threads']} threads (torch + FAISS), "
        f"bf16 units: {m['cpu_bf16']}, load avg at start {m['loadavg_at_start'][0]}, "
        f"at end {m['loadavg_at_end'][0]}; torch {r['versions']['torch']}, "
        f"langchain-community {r['versions']['langchain_community']}, "
        f"langchain-huggingface {r['versions']['langchain_huggingface']}. "
        "End to end = load/parse → chunk → embed → write an index, model load included; "
        "each system in its own process. Peak RSS = sampled sum over the process tree "
        "(clinrag parses in worker processes).",
        "",
        "| corpus | system | docs | chars | chunks | chars/chunk | end-to-end s | chunks/s "
        "| docs/s | kchars/s | parse / chunk / embed / write / other | overhead vs own embed stage "
        "| pure embed s | overhead vs pure embed | pure parse s "
        "| overhead beyond pure parse + embed | peak RSS MiB | CPU s |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for corpus in CORPORA:
        for system in SYSTEMS_OF[corpus]:
            x = r["runs"][system][corpus]
            s = x["time_share"]
            share = " / ".join(f"{100 * s[k]:.0f}%" for k in ("parse", "chunk", "embed", "write",
                                                                "other"))
            pure = x.get("pure_embed")
            pure_cols = (f"{pure['embed_s']:.1f} | {_pct(x['overhead'])} "
                         f"| {pure['parse_s']:.1f} | {_pct(x['overhead_beyond_parse'])}"
                         if pure else "– | – | – | –")
            lines.append(
                f"| {corpus} | {label[system]} | {x['input_documents']:,} | {x['input_chars']:,} "
                f"| {x['chunks']:,} | {x['chars_per_chunk']:.0f} | {x['wall_s']:.1f} "
                f"| {x['chunks_per_s']:.1f} | {x['docs_per_s']:.2f} | {x['chars_per_s'] / 1e3:.1f} "
                f"| {share} | {_pct(x.get('overhead_in_run'))} | {pure_cols} "
                f"| {x['peak_rss_tree_mb']:,.0f} | {x['cpu_s']:.0f} |")
    lines += [
        "",
        "| corpus | ratio | docs/s | chars/s | chunks/s (not comparable: chunk sizes differ) "
        "| CPU seconds (baseline / clinrag) |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for corpus in CORPORA:
        for ours in SYSTEMS_OF[corpus][1:]:
            q = r["ratios"][f"{ours}/{corpus}"]
            per_round = q.get("wall_ratio_rounds", [])
            rounds = (f" (median runs of {len(per_round)} rounds; same-round ratios "
                      + ", ".join(f"{x:.2f}×" for x in per_round) + ")"
                      if len(per_round) > 1 else "")
            lines.append(f"| {corpus} | {label[ours]} / LangChain | {q['docs_per_s']:.2f}×{rounds} "
                         f"| {q['chars_per_s']:.2f}× | {q['chunks_per_s']:.2f}× "
                         f"| {q['cpu_s']:.2f}× |")
    lines += ["", "bf16 gain over fp32 (clinrag): " + "; ".join(
        f"{c}: end to end {r['ratios'][f'bf16-vs-fp32/{c}']['chunks_per_s']:.2f}×, "
        f"embedding alone {r['ratios'][f'bf16-vs-fp32/{c}']['embed_only']:.2f}×" for c in CORPORA)
        + "."]
    q = r["quality"]
    lines += [
        "",
        f"Retrieval quality of the BioASQ index, bf16 vs fp32 (dense only, {q['questions']} "
        "questions, top-100 chunks collapsed to documents, queries embedded in the index's "
        "precision; ranx):",
        "",
        "| index | recall@10 | recall@100 | MRR@10 |",
        "|---|---:|---:|---:|",
    ]
    for system in ("ours", "ours-fp32"):
        x = q["metrics"][system]
        lines.append(f"| {x['precision']} | {x['recall@10']:.4f} | {x['recall@100']:.4f} "
                     f"| {x['mrr@10']:.4f} |")
    lines += [
        "",
        f"Cosine between the bf16 and fp32 vectors of the same {q['chunks_compared']:,} chunks "
        f"(identical embedded text; {q.get('chunks_text_differs', 0)} left out whose title "
        "prefix differed between the two runs): "
        f"mean {q['cosine_mean']:.5f}, 1st percentile {q['cosine_p01']:.5f}, min "
        f"{q['cosine_min']:.5f} ({q['cosine_below_0.99']:,} chunks below 0.99; the lowest is a "
        f"{q['lowest_cosine'][0]['chars'] if q['lowest_cosine'] else 0}-character chunk); "
        f"mean top-10 document overlap {q['top10_doc_overlap_mean']:.3f}.",
        "",
    ]
    return "\n".join(lines)


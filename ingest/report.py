"""The per-file ingest report and the run's exit status (pure data)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

EXIT_OK = 0
EXIT_FATAL = 1
EXIT_USAGE = 2      # a mistyped flag or setting (argparse exits 2 as well)
EXIT_PARTIAL = 3


@dataclass
class FileReport:
    path: str
    status: str  # ok | skipped | failed | removed
    category: str | None = None
    message: str | None = None
    documents: int = 0
    chunks: int = 0
    rejected: list[dict[str, str]] = field(default_factory=list)
    seconds: float = 0.0


@dataclass
class RunReport:
    files: list[FileReport] = field(default_factory=list)
    generation: str | None = None
    previous_generation: str | None = None
    changed: bool = False
    counts: dict[str, int] = field(default_factory=dict)
    added_chunks: int = 0
    removed_chunks: int = 0
    timings_s: dict[str, float] = field(default_factory=dict)
    published: dict[str, Any] | None = None   # the Milvus publish (ingest/store/milvus.py)
    started: str = ""
    finished: str = ""

    @property
    def failed(self) -> list[FileReport]:
        return [f for f in self.files if f.status == "failed"]

    @property
    def exit_code(self) -> int:
        """0 when every file is fine, 3 ("partial") when a file or a record was refused."""
        if self.failed or any(f.rejected for f in self.files):
            return EXIT_PARTIAL
        return EXIT_OK

    def summary(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for report in self.files:
            out[report.status] = out.get(report.status, 0) + 1
        return out

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["summary"] = self.summary()
        data["exit_code"] = self.exit_code
        return data

    def render(self) -> str:
        """A readable terminal summary: failures first, then the totals."""
        lines = []
        for report in self.files:
            if report.status == "failed":
                lines.append(f"  FAILED  [{report.category}] {report.path}: {report.message}")
        for report in self.files:
            if report.rejected:
                lines.append(f"  PARTIAL {report.path}: {len(report.rejected)} record(s) "
                             f"refused, e.g. [{report.rejected[0]['category']}] "
                             f"{report.rejected[0]['record']}: {report.rejected[0]['message']}")
        summary = ", ".join(f"{n} {status}" for status, n in sorted(self.summary().items()))
        lines.append(f"files: {summary or 'none'}")
        if self.changed:
            lines.append(f"generation {self.generation} (was {self.previous_generation or 'none'})"
                         f": +{self.added_chunks} / -{self.removed_chunks} chunks")
        else:
            lines.append(f"no changes; generation {self.generation or 'none'} stays current")
        if self.counts:
            lines.append("index: " + ", ".join(f"{v} {k}" for k, v in self.counts.items()))
        if self.published:
            p = self.published
            lines.append(f"milvus: {p['collection']} already served" if p["unchanged"] else
                         f"milvus: {p['collection']} now served ({p['chunks']} chunks, "
                         f"{p['seconds']:.1f}s; was {p['previous'] or 'none'})")
        if self.timings_s:
            lines.append("time: " + ", ".join(f"{k} {v:.1f}s" for k, v in self.timings_s.items()))
        return "\n".join(lines)

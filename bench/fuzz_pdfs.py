"""Hostile PDFs: a generated fuzz corpus and a known-bad set, through the isolated parser.

Fuzz corpus: byte flips, overwritten regions, truncations, splices of two files, deleted and
duplicated blocks, and edited numbers (xref offsets, ``/Length``) applied to real PDFs: the
demo PDFs in ``data/sample/pdfs``, small PDFs made here with fpdf2, and (when present) the
papers in ``../shared/data/pdfs``. Known-bad set, made in code: encrypted with and without a
user password, zero pages, a scanned image only, a flate bomb, circular page tree and xref,
truncated, not a PDF at all, empty.

Every file goes through ``ingest.parse_pool.ParsePool`` (one process per worker with the
pipeline's time and address-space limits), the parse stage of ``ingest run``. The bench
reports outcomes by category, the slowest files, and peak RSS of the main process and of the
largest parser process; it fails if the main process raises (a crash) or a file yields no
outcome.

    python bench/fuzz_pdfs.py [--files 10000] [--seed 1] [--workers 2] [--timeout 20]
                              [--big-share 0.1] [--out bench/results/fuzz_pdfs.json]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import re
import resource
import shutil
import sys
import tempfile
import time
import zlib
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
SHARED = Path(os.environ.get("CLINRAG_SHARED_DATA", REPO.parent / "shared" / "data"))

_TEXT = ("Low-dose colchicine reduced ischaemic cardiovascular events after myocardial "
         "infarction. Adverse events were mostly gastrointestinal and mild. ")


# -- seeds ---------------------------------------------------------------------------------------
def text_pdf(pages: int = 1, text: str = _TEXT, compress: bool = True) -> bytes:
    from datetime import datetime, timezone

    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_creation_date(datetime(2024, 1, 1, tzinfo=timezone.utc))
    pdf.set_compression(compress)
    pdf.set_title("Colchicine after myocardial infarction: a fictional test document")
    pdf.set_font("Helvetica", size=11)
    for page in range(pages):
        pdf.add_page()
        pdf.multi_cell(0, 6, f"Page {page + 1}. " + text * 4)
    return bytes(pdf.output())


def seed_files(include_big: bool = True) -> dict[str, bytes]:
    """Name -> bytes of every seed PDF: demo PDFs, generated ones, shared papers if present."""
    seeds = {p.name: p.read_bytes() for p in sorted((REPO / "data/sample/pdfs").glob("*.pdf"))}
    seeds["gen_1page.pdf"] = text_pdf(1)
    seeds["gen_3pages.pdf"] = text_pdf(3)
    seeds["gen_uncompressed.pdf"] = text_pdf(2, compress=False)
    if include_big and (SHARED / "pdfs").is_dir():
        for path in sorted((SHARED / "pdfs").glob("*.pdf")):
            seeds["big_" + path.name] = path.read_bytes()
    return seeds


# -- mutations -----------------------------------------------------------------------------------
_NUMBER = re.compile(rb"\d{2,10}")
MUTATIONS = ("flip", "overwrite", "truncate", "splice", "delete", "duplicate", "numbers",
             "keyword")
_KEYWORDS = [b"obj", b"endobj", b"stream", b"endstream", b"xref", b"trailer", b"/Length",
             b"/Filter", b"/FlateDecode", b"/Pages", b"/Kids", b"/Count", b"startxref", b"R"]


def mutate(data: bytes, rng: random.Random, other: bytes) -> tuple[str, bytes]:
    """One random mutation of ``data`` (``other``: a second file for splices)."""
    kind = rng.choice(MUTATIONS)
    buf = bytearray(data)
    n = len(buf)
    if kind == "flip":
        for _ in range(rng.randint(1, 32)):
            buf[rng.randrange(n)] ^= 1 << rng.randrange(8)
    elif kind == "overwrite":
        start = rng.randrange(n)
        size = min(n - start, rng.choice([4, 64, 512, 4096]))
        buf[start:start + size] = rng.randbytes(size)
    elif kind == "truncate":
        buf = buf[: rng.randrange(n)]
    elif kind == "splice":
        buf = buf[: rng.randrange(n)] + other[rng.randrange(len(other)):]
    elif kind == "delete":
        start = rng.randrange(n)
        del buf[start:start + rng.choice([1, 16, 256, 8192])]
    elif kind == "duplicate":
        start = rng.randrange(n)
        block = buf[start:start + rng.choice([16, 256, 8192])]
        at = rng.randrange(n)
        buf[at:at] = block * rng.randint(1, 8)
    elif kind == "numbers":
        matches = list(_NUMBER.finditer(data))
        for match in rng.sample(matches, min(len(matches), rng.randint(1, 8))):
            value = rng.choice([b"0", b"-1", b"4294967296", b"99999999999",
                                str(rng.randrange(10 ** 7)).encode()])
            value = value.ljust(match.end() - match.start())[: match.end() - match.start()]
            buf[match.start():match.end()] = value
    else:  # keyword: swap one structural keyword for another
        word = rng.choice(_KEYWORDS)
        spots = [m.start() for m in re.finditer(re.escape(word), data)][:2000]
        if spots:
            at = rng.choice(spots)
            buf[at:at + len(word)] = rng.choice(_KEYWORDS)
    return kind, bytes(buf)


def make_fuzz_corpus(folder: Path, files: int, seed: int = 1, big_share: float = 0.1,
                     include_big: bool = True) -> dict[str, str]:
    """Write ``files`` mutated PDFs; returns file name -> "mutation of seed"."""
    rng = random.Random(seed)
    seeds = seed_files(include_big)
    small = [k for k in seeds if not k.startswith("big_")]
    big = [k for k in seeds if k.startswith("big_")]
    folder.mkdir(parents=True, exist_ok=True)
    made = {}
    for i in range(files):
        pool = big if big and rng.random() < big_share else small
        name = rng.choice(pool)
        kind, data = mutate(seeds[name], rng, seeds[rng.choice(list(seeds))])
        # A second mutation now and then: bugs hide behind the first error.
        if rng.random() < 0.2:
            extra, data = mutate(data or b"%PDF", rng, seeds[rng.choice(list(seeds))])
            kind += "+" + extra
        file_name = f"fuzz_{i:05d}.pdf"
        (folder / file_name).write_bytes(data)
        made[file_name] = f"{kind} of {name}"
    return made


# -- the known-bad set ---------------------------------------------------------------------------
def _assemble(objects: list[bytes], trailer: bytes, prev_self: bool = False) -> bytes:
    """A PDF from numbered object bodies, with a correct xref table."""
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    extra = b" /Prev %d" % xref if prev_self else b""
    out += b"trailer\n<< /Size %d %s%s >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1, trailer, extra, xref)
    return bytes(out)


def _page_with_stream(stream: bytes, filtered: bool) -> list[bytes]:
    head = b"<< /Length %d%s >>\nstream\n" % (len(stream), b" /Filter /FlateDecode" if filtered
                                             else b"")
    return [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        head + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]


def flate_bomb(decompressed_mb: int) -> bytes:
    """One page whose content stream inflates to ``decompressed_mb`` MB (of NUL whitespace)."""
    return _assemble(_page_with_stream(zeros_deflated(decompressed_mb), True), b"/Root 1 0 R")


def zeros_deflated(megabytes: int) -> bytes:
    """A zlib stream of a text operator plus ``megabytes`` MB of zeros, built in milliseconds.

    After a full flush the compressor's window is reset, so every further MB of zeros
    compresses to the same bytes: the block is repeated instead of recompressed, and the
    stream ends with an empty final block and the Adler-32 of everything.
    """
    head_text = b"BT /F1 12 Tf 72 720 Td (Bomb) Tj ET\n"
    zeros = b"\0" * (1 << 20)
    compressor = zlib.compressobj(9)
    head = compressor.compress(head_text) + compressor.flush(zlib.Z_FULL_FLUSH)
    block = compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
    checksum = zlib.adler32(head_text)
    for _ in range(megabytes):
        checksum = zlib.adler32(zeros, checksum)
    return head + block * megabytes + b"\x03\x00" + checksum.to_bytes(4, "big")


def circular_page_tree() -> bytes:
    return _assemble([
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Pages /Parent 2 0 R /Kids [2 0 R 3 0 R] /Count 1 >>",
    ], b"/Root 1 0 R")


def circular_xref() -> bytes:
    objects = _page_with_stream(b"BT /F1 12 Tf 72 720 Td (Loop) Tj ET", False)
    return _assemble(objects, b"/Root 1 0 R", prev_self=True)


def encrypted(user_password: str, owner_password: str) -> bytes:
    import pypdf

    writer = pypdf.PdfWriter(clone_from=io.BytesIO(text_pdf(1)))
    writer.encrypt(user_password=user_password, owner_password=owner_password,
                   algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def zero_pages() -> bytes:
    import pypdf

    out = io.BytesIO()
    pypdf.PdfWriter().write(out)
    return out.getvalue()


def image_only() -> bytes:
    from datetime import datetime, timezone

    from fpdf import FPDF
    from PIL import Image, ImageDraw

    image = Image.new("L", (600, 800), 255)
    draw = ImageDraw.Draw(image)
    for y in range(40, 760, 24):  # "scanned" lines of text: pixels, no text layer
        draw.rectangle([40, y, 40 + (y * 7) % 500, y + 10], fill=0)
    pdf = FPDF()
    pdf.set_creation_date(datetime(2024, 1, 1, tzinfo=timezone.utc))
    pdf.add_page()
    pdf.image(image, x=10, y=10, w=190)
    return bytes(pdf.output())


def known_bad(bomb_mb: int = 1024) -> dict[str, tuple[bytes, set[str]]]:
    """File name -> (bytes, categories it may end in). ``ok`` means it must be ingested."""
    real = text_pdf(2)
    return {
        "good_control.pdf": (text_pdf(2), {"ok"}),
        "encrypted_user_password.pdf": (encrypted("secret", "owner"), {"encrypted"}),
        # An owner password only (empty user password): readable, so it must be ingested.
        "encrypted_owner_only.pdf": (encrypted("", "owner"), {"ok"}),
        "zero_pages.pdf": (zero_pages(), {"no_text"}),
        "scanned_image_only.pdf": (image_only(), {"no_text"}),
        "flate_bomb.pdf": (flate_bomb(bomb_mb), {"no_text", "memory", "crashed", "parse_error",
                                                 "timeout", "ok"}),
        "circular_page_tree.pdf": (circular_page_tree(), {"no_text", "parse_error"}),
        "circular_xref.pdf": (circular_xref(), {"ok", "no_text", "parse_error"}),
        "truncated.pdf": (real[: len(real) * 6 // 10], {"ok", "no_text", "parse_error"}),
        "not_a_pdf.pdf": (b"<html><body>Session expired. Please log in.</body></html>\n",
                          {"parse_error"}),
        "random_bytes.pdf": (random.Random(5).randbytes(4096), {"parse_error"}),
        "empty.pdf": (b"", {"parse_error", "no_text"}),
    }


# -- running -------------------------------------------------------------------------------------
def parse_all(paths: list[Path], workers: int = 2, timeout_s: float = 20,
              memory_mb: int = 2048, progress: bool = False) -> dict[str, dict]:
    """Every path through the isolated parser: name -> {category, seconds, message}."""
    from ingest.parse_pool import ParsePool

    results: dict[str, dict] = {}
    start = time.monotonic()
    with ParsePool(workers, timeout_s, memory_mb) as pool:
        for outcome in pool.parse(paths):
            if outcome.error is None:
                pages = sum(len(d.pages) for d in outcome.loaded.documents)
                results[outcome.path.name] = {"category": "ok", "pages": pages,
                                              "seconds": round(outcome.seconds, 3)}
            else:
                results[outcome.path.name] = {"category": outcome.error.category,
                                              "message": outcome.error.message[:200],
                                              "seconds": round(outcome.seconds, 3)}
            if progress and len(results) % 500 == 0:
                rate = len(results) / (time.monotonic() - start)
                print(f"  {len(results)}/{len(paths)} parsed ({rate:.1f} files/s)", flush=True)
    return results


def peak_rss_mb() -> dict[str, float]:
    """Peak resident memory (MB) of this process and of the largest finished child."""
    return {"main": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "largest_parser": round(
                resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=20.0)
    parser.add_argument("--memory-mb", type=int, default=2048)
    parser.add_argument("--big-share", type=float, default=0.1,
                        help="share of mutations made from the shared papers (slow to parse)")
    parser.add_argument("--bomb-mb", type=int, default=4096)
    parser.add_argument("--out", type=Path, default=REPO / "bench/results/fuzz_pdfs.json")
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="clinrag-fuzz-"))
    try:
        t0 = time.monotonic()
        made = make_fuzz_corpus(work / "fuzz", args.files, args.seed, args.big_share)
        bad = known_bad(args.bomb_mb)
        (work / "bad").mkdir()
        for name, (data, _) in bad.items():
            (work / "bad" / name).write_bytes(data)
        print(f"generated {len(made)} fuzz files and {len(bad)} known-bad files in "
              f"{time.monotonic() - t0:.0f} s", flush=True)
        t0 = time.monotonic()
        known = parse_all(sorted((work / "bad").iterdir()), args.workers, args.timeout,
                          args.memory_mb)
        wrong = {n: r for n, r in known.items() if r["category"] not in bad[n][1]}
        t1 = time.monotonic()
        fuzz = parse_all(sorted((work / "fuzz").iterdir()), args.workers, args.timeout,
                         args.memory_mb, progress=True)
        seconds = time.monotonic() - t1
        missing = set(made) - set(fuzz)
        by_category = Counter(r["category"] for r in fuzz.values())
        by_mutation: dict[str, Counter] = {}
        for name, result in fuzz.items():
            by_mutation.setdefault(made[name].split(" of ")[0].split("+")[0],
                                   Counter())[result["category"]] += 1
        slowest = sorted(fuzz.items(), key=lambda kv: -kv[1]["seconds"])[:10]
        summary = {
            "files": len(made), "outcomes": len(fuzz), "missing_outcomes": len(missing),
            "main_process_crashes": 0, "by_category": dict(by_category.most_common()),
            "by_mutation": {k: dict(v.most_common()) for k, v in sorted(by_mutation.items())},
            "seconds": round(seconds, 1), "files_per_second": round(len(fuzz) / seconds, 1),
            "slowest": [{"file": n, "from": made[n], **r} for n, r in slowest],
            "known_bad": {n: r for n, r in known.items()},
            "known_bad_unexpected": wrong,
            "known_bad_seconds": round(t1 - t0, 1),
            "peak_rss_mb": peak_rss_mb(),
            "settings": {"workers": args.workers, "timeout_s": args.timeout,
                         "memory_mb": args.memory_mb, "seed": args.seed,
                         "big_share": args.big_share, "bomb_mb": args.bomb_mb},
        }
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(summary, indent=1) + "\n")
        print(json.dumps({k: v for k, v in summary.items() if k != "slowest"}, indent=1))
        return 1 if missing or wrong else 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

"""Loopback load test of ``clinrag serve``: many concurrent clients for a bounded time.

The server runs in its own process (so client and server do not share one interpreter), on a
free port of 127.0.0.1, and each client (httpx, asyncio) asks questions back to back. Two modes:

* ``--stub``: STUB ANSWERER, no models (a canned answer after a fixed delay): measures the
  HTTP layer, admission control and queueing alone.
* real (default): the real Answerer over an index (``--index``; the demo corpus is ingested
  into a temporary index when none is given).

Reported: transport errors (must be 0), server errors other than the deliberate 503s (must be
0), p50/p95/max latency of accepted (200) requests, the 503 share and throughput. Results go to
``bench/results/load.json`` (one entry per mode) and ``bench/results/load.md``.

    python bench/load.py --stub --clients 200 --seconds 60
    python bench/load.py --clients 20 --seconds 30
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
# Run as a script, this folder comes first on sys.path, and bench/ingest.py would shadow the
# ingest package.
sys.path.insert(0, str(REPO))
RESULTS = REPO / "bench" / "results"
KEY = "bench-load-key-0001"
QUESTIONS = [
    "Do SGLT2 inhibitors reduce hospitalisation for heart failure?",
    "Is apixaban safe in atrial fibrillation with chronic kidney disease?",
    "Does influenza vaccination lower cardiovascular events?",
    "Does structured physiotherapy help chronic low back pain?",
    "Does metformin cause lactic acidosis in renal impairment?",
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc), to see which side is saturated."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_server(args, home: Path, index: Path | None) -> tuple[subprocess.Popen, str]:
    port = free_port()
    command = [sys.executable, "-m", "clinrag.cli", "serve", "--host", "127.0.0.1",
               "--port", str(port), "--home", str(home), "--workers", str(args.workers),
               "--queue", str(args.queue), "--timeout", str(args.timeout),
               "--rate", "1000000", "--burst", "1000000"]
    if index is not None:
        command += ["--index", str(index)]
    if args.stub:
        command.append("--stub")
    env = {**os.environ, "CLINRAG_API_KEYS": f"reader:{KEY}"}
    if not args.stub:
        env.setdefault("CLINRAG_ANSWER__GENERATOR", args.generator)
    log = (home / "server.log").open("w")
    process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited ({process.returncode}); see {home}/server.log")
        try:
            if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                return process, url
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    process.kill()
    raise TimeoutError("server did not start")


async def client(url: str, stop_at: float, seed: int, out: dict, http: httpx.AsyncClient):
    rng = random.Random(seed)
    while time.monotonic() < stop_at:
        question = rng.choice(QUESTIONS)
        start = time.perf_counter()
        try:
            response = await http.post(url + "/v1/ask", json={"question": question},
                                       headers={"Authorization": f"Bearer {KEY}"})
        except httpx.TransportError as exc:
            out["transport_errors"].append(type(exc).__name__)
            await asyncio.sleep(0.1)
            continue
        elapsed = time.perf_counter() - start
        code = response.status_code
        timing = response.headers.get("server-timing", "")
        if timing.startswith("app;dur="):
            out["server_ms"].setdefault(code, []).append(float(timing[8:]))
        out["codes"][code] = out["codes"].get(code, 0) + 1
        if code == 200:
            out["latencies"].append(elapsed)
        elif code == 503:
            out["busy_latencies"].append(elapsed)
            # A polite client backs off; capped so the test keeps its pressure.
            await asyncio.sleep(min(float(response.headers.get("retry-after", 1)), 1.0)
                                * rng.random())


async def load(url: str, clients: int, seconds: float) -> dict:
    out = {"codes": {}, "latencies": [], "busy_latencies": [], "transport_errors": [],
           "server_ms": {}}
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    timeout = httpx.Timeout(600, connect=30)
    async with httpx.AsyncClient(limits=limits, timeout=timeout) as http:
        stop_at = time.monotonic() + seconds
        started = time.perf_counter()
        await asyncio.gather(*(client(url, stop_at, i, out, http) for i in range(clients)))
        out["wall_s"] = time.perf_counter() - started
    return out


def summarise(out: dict, args) -> dict:
    codes = out["codes"]
    total = sum(codes.values())
    lat = sorted(out["latencies"])

    def pct(values, q):
        return round(values[min(len(values) - 1, int(q * len(values)))] * 1000, 1) \
            if values else None

    return {
        "mode": "stub" if args.stub else "real",
        "answerer": "STUB (canned answer, 50 ms delay, no models)" if args.stub
        else f"real Answerer (generator={args.generator})",
        "clients": args.clients, "seconds": args.seconds, "workers": args.workers,
        "queue": args.queue, "requests": total,
        "status_counts": {str(k): v for k, v in sorted(codes.items())},
        "transport_errors": len(out["transport_errors"]),
        "server_errors_not_503": sum(v for k, v in codes.items() if k >= 500 and k != 503),
        "share_503": round(codes.get(503, 0) / total, 4) if total else None,
        "accepted_per_s": round(codes.get(200, 0) / out["wall_s"], 2),
        "p50_ms": pct(lat, 0.50), "p95_ms": pct(lat, 0.95),
        "max_ms": round(lat[-1] * 1000, 1) if lat else None,
        "p95_503_ms": pct(sorted(out["busy_latencies"]), 0.95),
        "server_p95_ms_200": pct_ms(out["server_ms"].get(200, []), 0.95),
        "server_p95_ms_503": pct_ms(out["server_ms"].get(503, []), 0.95),
        "server_cpu_s": round(out["server_cpu_s"], 1),
        "client_cpu_s": round(out["client_cpu_s"], 1),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, load average "
                   f"{os.getloadavg()[0]:.1f} at the end",
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }


def pct_ms(values: list[float], q: float) -> float | None:
    values = sorted(values)
    return round(values[min(len(values) - 1, int(q * len(values)))], 1) if values else None


def write_results(result: dict) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / "load.json"
    runs = json.loads(path.read_text()) if path.exists() else {}
    runs[result["mode"]] = result
    path.write_text(json.dumps(runs, indent=1) + "\n")
    lines = ["# Load test of `clinrag serve` (loopback)", "",
             "`python bench/load.py --stub ...` and `python bench/load.py ...` (real mode); "
             "server and clients in separate processes on one machine. Accepted = 200; a full "
             "queue answers 503 with Retry-After at once (clients back off up to 1 s).", "",
             "Client-side latencies include the time a response waits in the client's own "
             "event loop (all clients are coroutines of one httpx process); `in-server` is "
             "the app's own time from its `Server-Timing` header. `CPU s` shows which side "
             "was busier. On a small shared machine (load average in the last column) both "
             "sides are starved of CPU: compare runs on one machine, not absolute times.", "",
             "| mode | answerer | clients x s | workers / queue | requests | transport errors "
             "| 5xx other than 503 | 503 share | accepted/s | p50 ms | p95 ms | max ms "
             "| p95 of 503 ms | in-server p95 ms 200 / 503 | CPU s server / client "
             "| machine |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- "
             "| --- | --- | --- |"]
    for r in runs.values():
        lines.append(
            f"| {r['mode']} | {r['answerer']} | {r['clients']} x {r['seconds']} | "
            f"{r['workers']} / {r['queue']} | {r['requests']} | {r['transport_errors']} | "
            f"{r['server_errors_not_503']} | {r['share_503']:.1%} | {r['accepted_per_s']} | "
            f"{r['p50_ms']} | {r['p95_ms']} | {r['max_ms']} | {r['p95_503_ms']} | "
            f"{r.get('server_p95_ms_200')} / {r.get('server_p95_ms_503')} | "
            f"{r.get('server_cpu_s')} / {r.get('client_cpu_s')} | {r['machine']}, {r['date']} |")
    (RESULTS / "load.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stub", action="store_true", help="STUB answerer (no models)")
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--queue", type=int, default=8)
    parser.add_argument("--timeout", type=float, default=120)
    parser.add_argument("--index", type=Path, help="index to serve (real mode); default: the "
                        "demo corpus ingested into a temporary index")
    parser.add_argument("--generator", default="extractive",
                        help="answer.generator for real mode (default extractive)")
    parser.add_argument("--no-save", action="store_true", help="print only")
    args = parser.parse_args()
    if args.clients < 1 or args.seconds <= 0 or args.seconds > 3600:
        parser.error("need 1+ clients and 0 < seconds <= 3600")
    with tempfile.TemporaryDirectory(prefix="clinrag-load-") as tmp:
        home = Path(tmp)
        index = args.index
        if not args.stub and index is None:
            from clinrag.settings import load_settings
            from ingest.pipeline import run

            index = home / "index"
            print("ingesting the demo corpus into a temporary index ...", flush=True)
            run([REPO / "data/sample/pubmed", REPO / "data/sample/pdfs"],
                load_settings({"home": home, "index": index}))
        process, url = start_server(args, home, index)
        try:
            print(f"{'STUB' if args.stub else 'real'} server at {url}; {args.clients} clients "
                  f"for {args.seconds:g} s ...", flush=True)
            server_cpu, client_cpu = cpu_seconds(process.pid), time.process_time()
            out = asyncio.run(load(url, args.clients, args.seconds))
            out["server_cpu_s"] = cpu_seconds(process.pid) - server_cpu
            out["client_cpu_s"] = time.process_time() - client_cpu
        finally:
            process.terminate()
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
        result = summarise(out, args)
    print(json.dumps(result, indent=1))
    if out["transport_errors"]:
        print("transport errors:", statistics.multimode(out["transport_errors"]))
    if not args.no_save:
        write_results(result)
    return 0 if result["transport_errors"] == 0 and result["server_errors_not_503"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())

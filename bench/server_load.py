"""The studio under load: requests/s and latency percentiles at a few concurrencies, measured with `hey`.

Starts `pixeldrift serve` on 127.0.0.1 (a free port, a temporary gallery, queue of 16),
then drives it with hey (Debian package `hey`; `--install-tool` installs it with apt-get):

    GET  /api/info            the HTTP layer alone (routing, guard, JSON)
    POST /sdapi/v1/txt2img    real generations (64x64, --steps steps), through the queue:
                              beyond its capacity, requests are refused at once with 429

    python bench/server_load.py [--steps 2] [--requests 400] [--concurrency 1,16,64,200]

With --oversized it measures instead (no hey needed) normal txt2img jobs, one after another,
on an idle server and then while a burst of oversized bodies arrives (issue 15): a 40 MiB
declared body, a chunked body past the 1 MiB text limit, a 1 MiB prompt to /api/jobs.
Normal jobs should stay within 2x of their idle latency and the server's memory bounded
(its resident set and peak, from /proc).

Every figure comes from hey's per-request CSV, or from these timings; nothing is sent
anywhere but 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import json
import multiprocessing
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

MIB = 1 << 20


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def install_hey() -> None:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", "hey"], check=True, env=env)


def start_server(port: int, gallery: str, queue_size: int) -> subprocess.Popen:
    server = subprocess.Popen([sys.executable, "-m", "pixeldrift.cli.main", "serve", "--port", str(port),
                               "--gallery", gallery, "--queue-size", str(queue_size), "--log-level", "error"])
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/info", timeout=1)
            return server
        except OSError:
            if server.poll() is not None:
                raise SystemExit("the server exited while starting")
            time.sleep(0.2)
    server.kill()
    raise SystemExit("the server did not start within 60 s")


def run_hey(url: str, requests: int, concurrency: int, body: dict | None) -> dict:
    """One hey run; returns requests/s, latency percentiles (ms) and status counts."""
    command = ["hey", "-n", str(max(requests, concurrency)), "-c", str(concurrency), "-t", "120", "-o", "csv"]
    if body is not None:
        command += ["-m", "POST", "-T", "application/json", "-d", json.dumps(body)]
    output = subprocess.run(command + [url], check=True, capture_output=True, text=True).stdout
    rows = list(csv.DictReader(io.StringIO(output)))
    wall = max(float(r["offset"]) + float(r["response-time"]) for r in rows)
    by_status: dict[str, list[float]] = {}
    for r in rows:
        by_status.setdefault(r["status-code"], []).append(float(r["response-time"]) * 1000)
    every = [ms for times in by_status.values() for ms in times]
    return {"n": len(rows), "rps": len(rows) / wall, "p50": percentile(every, 0.5), "p90": percentile(every, 0.9),
            "p99": percentile(every, 0.99), "statuses": {k: (len(v), percentile(v, 0.5)) for k, v in by_status.items()}}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def raw_request(path: str, headers: dict, port: int) -> bytes:
    lines = [f"POST {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Content-Type: application/json",
             *(f"{k}: {v}" for k, v in headers.items()), "Connection: close", "", ""]
    return "\r\n".join(lines).encode()


async def oversized(port: int, kind: str) -> str:
    """One hostile request; returns the status line's code (or the error that ended it)."""
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        if kind == "declared 40 MiB":
            writer.write(raw_request("/sdapi/v1/txt2img", {"Content-Length": 40 * MIB}, port) + b" " * 65536)
        elif kind == "chunked 2 MiB":
            writer.write(raw_request("/sdapi/v1/txt2img", {"Transfer-Encoding": "chunked"}, port))
            for _ in range(32):
                writer.write(b"10000\r\n" + b" " * 65536 + b"\r\n")
                await writer.drain()
        else:  # a 1 MiB prompt where images are accepted: refused by the field bound
            body = json.dumps({"prompt": "x" * MIB}).encode()
            writer.write(raw_request("/api/jobs", {"Content-Length": len(body)}, port) + body)
        await writer.drain()
        status = (await asyncio.wait_for(reader.readline(), 60)).split(b" ")[1].decode()
        writer.close()
        return status
    except (OSError, IndexError, asyncio.TimeoutError) as error:
        return type(error).__name__


def burst(port: int, kind: str, stop, answers, concurrency: int = 8) -> None:
    """Hostile requests, `concurrency` at a time, until `stop` is set; puts the count of each answer.

    Runs in a process of its own, so it never holds the timing thread's interpreter lock.
    """
    statuses: dict[str, int] = {}

    async def one_stream():
        while not stop.is_set():
            status = await oversized(port, kind)
            statuses[status] = statuses.get(status, 0) + 1

    async def streams():
        await asyncio.gather(*(one_stream() for _ in range(concurrency)))
    asyncio.run(streams())
    answers.put(statuses)


def job_latencies(base: str, body: dict, count: int) -> list[float]:
    """Milliseconds of `count` normal txt2img jobs, one after another."""
    times = []
    for _ in range(count):
        request = urllib.request.Request(f"{base}/sdapi/v1/txt2img", json.dumps(body).encode(),
                                         {"Content-Type": "application/json"})
        start = time.perf_counter()
        with urllib.request.urlopen(request, timeout=300) as answer:
            answer.read()
        times.append((time.perf_counter() - start) * 1000)
    return times


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used, from /proc."""
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def memory_mib(pid: int) -> tuple[float, float]:
    """(resident set, its peak) of a process in MiB, from /proc."""
    fields = dict(line.split(":", 1) for line in open(f"/proc/{pid}/status").read().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def timed_under(kind: str, port: int, measure, streams: int) -> tuple[list[float], dict]:
    """measure() while a burst of `kind` runs (none for "idle"); returns its result and the burst's answers."""
    if kind == "idle":
        return measure(), {}
    stop, answers = multiprocessing.Event(), multiprocessing.Queue()
    hostile = multiprocessing.Process(target=burst, args=(port, kind, stop, answers, streams))
    hostile.start()
    try:
        times = measure()
    finally:
        stop.set()
    statuses = answers.get(timeout=120)
    hostile.join(120)
    return times, statuses


def oversized_table(base: str, port: int, pid: int, body: dict, jobs: int, streams: int) -> None:
    print(f"{'normal jobs while':<22} {'jobs':>5} {'p50 ms':>8} {'p90 ms':>8} {'max ms':>8} {'p50/idle':>9} "
          f"{'RSS MiB':>8} {'peak':>7} {'srv CPU s':>9}  burst answers ({streams} at a time)")
    idle = None
    for kind in ("idle", "declared 40 MiB", "chunked 2 MiB", "1 MiB prompt"):
        cpu = cpu_seconds(pid)
        times, statuses = timed_under(kind, port, lambda: job_latencies(base, body, jobs), streams)
        cpu = cpu_seconds(pid) - cpu
        p50 = percentile(times, 0.5)
        idle = idle or p50
        rss, peak = memory_mib(pid)
        answers = "  ".join(f"{k}: {n}" for k, n in sorted(statuses.items())) or "-"
        print(f"{kind:<22} {jobs:>5} {p50:>8.1f} {percentile(times, 0.9):>8.1f} {max(times):>8.1f} "
              f"{p50 / idle:>9.2f} {rss:>8.0f} {peak:>7.0f} {cpu:>9.1f}  {answers}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2, help="sampling steps of each txt2img request")
    parser.add_argument("--requests", type=int, default=400, help="requests per run (at least the concurrency)")
    parser.add_argument("--concurrency", default="1,16,64,200")
    parser.add_argument("--queue-size", type=int, default=16)
    parser.add_argument("--install-tool", action="store_true", help="apt-get install hey first (needs root)")
    parser.add_argument("--oversized", action="store_true",
                        help="measure normal jobs during a burst of oversized bodies instead (no hey needed)")
    parser.add_argument("--jobs", type=int, default=20, help="normal jobs per row of the --oversized table")
    parser.add_argument("--burst-streams", type=int, default=8,
                        help="hostile connections at once in the --oversized table, each sending as fast as it can")
    args = parser.parse_args()
    if args.oversized:
        return run_oversized(args)
    if args.install_tool and shutil.which("hey") is None:
        install_hey()
    if shutil.which("hey") is None:
        raise SystemExit("hey is not installed: apt-get install -y hey  (or run with --install-tool)")
    levels = [int(c) for c in args.concurrency.split(",")]
    port = free_port()
    with tempfile.TemporaryDirectory() as gallery:
        server = start_server(port, gallery, args.queue_size)
        try:
            base = f"http://127.0.0.1:{port}"
            body = {"prompt": "three red circles above a blue square", "steps": args.steps, "seed": 1}
            print(f"pixeldrift studio on {base}, queue {args.queue_size}, torch threads from OMP_NUM_THREADS="
                  f"{os.environ.get('OMP_NUM_THREADS', 'unset')}; hey, {args.requests} requests per row")
            print(f"{'endpoint':<22} {'conc':>5} {'req/s':>8} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8}  "
                  "status: count (p50 ms)")
            for name, path, payload in (("GET /api/info", "/api/info", None),
                                        (f"POST txt2img {args.steps} st", "/sdapi/v1/txt2img", body)):
                for level in levels:
                    r = run_hey(base + path, args.requests, level, payload)
                    counts = "  ".join(f"{k}: {n} ({ms:.0f})" for k, (n, ms) in sorted(r["statuses"].items()))
                    print(f"{name:<22} {level:>5} {r['rps']:>8.1f} {r['p50']:>8.1f} {r['p90']:>8.1f} "
                          f"{r['p99']:>8.1f}  {counts}")
            rows = json.load(urllib.request.urlopen(f"{base}/api/gallery?limit=1"))["total"]
            print(f"gallery rows after the run: {rows}")
        finally:
            server.terminate()
            server.wait(30)


def run_oversized(args) -> None:
    port = free_port()
    with tempfile.TemporaryDirectory() as gallery:
        server = start_server(port, gallery, args.queue_size)
        try:
            base = f"http://127.0.0.1:{port}"
            body = {"prompt": "three red circles above a blue square", "steps": args.steps, "seed": 1,
                    "width": 64, "height": 64}
            print(f"pixeldrift studio on {base}; txt2img {args.steps} steps 64x64, one at a time")
            oversized_table(base, port, server.pid, body, args.jobs, args.burst_streams)
        finally:
            server.terminate()
            server.wait(30)


if __name__ == "__main__":
    main()

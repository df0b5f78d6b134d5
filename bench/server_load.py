"""The studio under load: requests/s and latency percentiles at a few concurrencies, measured with `hey`.

Starts `pixeldrift serve` on 127.0.0.1 (a free port, a temporary gallery, queue of 16),
then drives it with hey (Debian package `hey`; `--install-tool` installs it with apt-get):

    GET  /api/info            the HTTP layer alone (routing, guard, JSON)
    POST /sdapi/v1/txt2img    real generations (64x64, --steps steps), through the queue:
                              beyond its capacity, requests are refused at once with 429

    python bench/server_load.py [--steps 2] [--requests 400] [--concurrency 1,16,64,200]

Every figure comes from hey's per-request CSV; nothing is sent anywhere but 127.0.0.1.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2, help="sampling steps of each txt2img request")
    parser.add_argument("--requests", type=int, default=400, help="requests per run (at least the concurrency)")
    parser.add_argument("--concurrency", default="1,16,64,200")
    parser.add_argument("--queue-size", type=int, default=16)
    parser.add_argument("--install-tool", action="store_true", help="apt-get install hey first (needs root)")
    args = parser.parse_args()
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


if __name__ == "__main__":
    main()

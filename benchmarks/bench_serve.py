"""``mrkcheck serve`` under load: 16 concurrent clients, 10,000 mixed KMS requests on loopback.

The server runs as its own process (``mrkcheck serve --port 0``), as a user runs it; the
clients are threads here, each with its own keep-alive HTTP connection, sending KMS JSON 1.1
requests (a fixed SigV4-shaped Authorization header: the server reads the Region from it and
does not verify signatures, so the clients' cost stays out of the figures). Mixed operations on
three shared multi-Region keys: DescribeKey, Encrypt, Decrypt, DisableKey/EnableKey,
UpdatePrimaryRegion, ListKeys. Afterwards the trace the server saves as it stops (``--trace``)
is replayed on the model (is it a run of the model? no lost update). Writes benchmarks/results/serve.json and serve.md (quoted in
the README).

Run: .venv/bin/python benchmarks/bench_serve.py [--requests 10000] [--clients 16]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

from mrkcheck.registry import load_factory
from mrkcheck.traces.itf import from_itf
from mrkcheck.traces.replay import replay

RESULTS = Path(__file__).parent / "results"
REGIONS = ("us-east-1", "eu-west-1")


def auth(region: str) -> str:
    return (
        f"AWS4-HMAC-SHA256 Credential=bench/20261206/{region}/kms/aws4_request, "
        "SignedHeaders=host, Signature=00"
    )


class Client:
    """One keep-alive connection speaking KMS JSON 1.1."""

    def __init__(self, port: int) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def call(self, region: str, operation: str, body: dict) -> tuple[int, dict]:
        headers = {
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": f"TrentService.{operation}",
            "Authorization": auth(region),
        }
        self.conn.request("POST", "/", json.dumps(body), headers)
        response = self.conn.getresponse()
        return response.status, json.loads(response.read())


def request(n: int, i: int, keys: list[str], blobs: dict[str, str]) -> tuple[str, str, dict]:
    """The i-th request of client n: mixed operations over the shared keys."""
    region = REGIONS[(n + i // 10) % 2]  # each operation in both Regions
    key = keys[(n + i) % len(keys)]
    op = (n * 7 + i) % 10
    if op in (0, 1, 2):
        return region, "DescribeKey", {"KeyId": key}
    if op in (3, 4):
        return region, "Encrypt", {"KeyId": key, "Plaintext": "YmVuY2g="}
    if op == 5 and key in blobs:
        return region, "Decrypt", {"CiphertextBlob": blobs[key]}
    if op == 6:
        return region, "DisableKey", {"KeyId": key}
    if op == 7:
        return region, "EnableKey", {"KeyId": key}
    if op == 8:
        return (
            REGIONS[1 - REGIONS.index(region)],
            "UpdatePrimaryRegion",
            {
                "KeyId": key,
                "PrimaryRegion": region,
            },
        )
    return region, "ListKeys", {}


def run(requests: int, clients: int) -> dict:
    trace_file = Path(tempfile.mkdtemp()) / "bench-serve.itf.json"
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mrkcheck",
            "serve",
            "--port",
            "0",
            "--regions",
            ",".join(REGIONS),
            "--trace",
            str(trace_file),
        ],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert server.stdout is not None
        url = server.stdout.readline().split("listening on ", 1)[1].split()[0]
        port = int(url.rsplit(":", 1)[1])
        setup = Client(port)
        keys = []
        for _ in range(3):
            _, created = setup.call(REGIONS[0], "CreateKey", {"MultiRegion": True})
            keys.append(created["KeyMetadata"]["KeyId"])
            setup.call(REGIONS[0], "ReplicateKey", {"KeyId": keys[-1], "ReplicaRegion": REGIONS[1]})
        blobs = {
            k: setup.call(REGIONS[0], "Encrypt", {"KeyId": k, "Plaintext": "YmVuY2g="})[1][
                "CiphertextBlob"
            ]
            for k in keys
        }
        latencies: list[float] = []
        statuses: dict[int, int] = {}
        operations: dict[str, int] = {}
        lock = threading.Lock()
        per_client = [
            requests // clients + (1 if n < requests % clients else 0) for n in range(clients)
        ]

        def worker(n: int) -> None:
            client = Client(port)
            mine, seen, ops = [], {}, {}
            for i in range(per_client[n]):
                region, operation, body = request(n, i, keys, blobs)
                started = time.perf_counter()
                status, _ = client.call(region, operation, body)
                mine.append(time.perf_counter() - started)
                seen[status] = seen.get(status, 0) + 1
                ops[operation] = ops.get(operation, 0) + 1
            with lock:
                latencies.extend(mine)
                for k, v in seen.items():
                    statuses[k] = statuses.get(k, 0) + v
                for k, v in ops.items():
                    operations[k] = operations.get(k, 0) + v

        threads = [threading.Thread(target=worker, args=(n,)) for n in range(clients)]
        started = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - started
    finally:
        server.send_signal(signal.SIGTERM)  # it writes the trace as it stops
        server.wait(120)
    doc = json.loads(trace_file.read_text())
    model = load_factory("kms")(**doc["#meta"]["options"])
    verdict = replay(model, from_itf(doc, model.schema))
    # No lost update: each call answered with success is one step of the run, and no other.
    acknowledged = Counter(r["operation"] for r in doc["#meta"]["requests"] if r["result"] == "ok")
    steps = Counter(s["#meta"]["action"] for s in doc["states"][1:])
    changing = ("CreateKey", "ReplicateKey", "DisableKey", "EnableKey", "UpdatePrimaryRegion")
    lost = sum(abs(acknowledged[op] - steps[op]) for op in (*changing, "Encrypt", "Decrypt"))
    latencies.sort()
    return {
        "requests": len(latencies),
        "clients": clients,
        "seconds": round(elapsed, 2),
        "requests_per_second": round(len(latencies) / elapsed, 1),
        "p50_ms": round(latencies[len(latencies) // 2] * 1000, 2),
        "p99_ms": round(latencies[int(len(latencies) * 0.99)] * 1000, 2),
        "max_ms": round(latencies[-1] * 1000, 2),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "5xx": sum(v for k, v in statuses.items() if k >= 500),
        "operations": dict(sorted(operations.items())),
        "trace_steps": len(doc["states"]) - 1,
        "trace_requests": len(doc["#meta"]["requests"]),
        "replay": verdict.line(),
        "successes_not_in_the_run": lost,
        "successes": {op: acknowledged[op] for op in sorted(acknowledged)},
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--clients", type=int, default=16)
    args = parser.parse_args()
    result = run(args.requests, args.clients)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "serve.json").write_text(json.dumps(result, indent=2) + "\n")
    md = [
        "| clients | requests | seconds | requests/s | p50 ms | p99 ms | 5xx | lost updates "
        "| replay |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---|",
        f"| {result['clients']} | {result['requests']:,} | {result['seconds']} | "
        f"{result['requests_per_second']:,} | {result['p50_ms']} | {result['p99_ms']} | "
        f"{result['5xx']} | {result['successes_not_in_the_run']} | {result['replay']} |",
    ]
    (RESULTS / "serve.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))
    print(json.dumps(result["statuses"]), json.dumps(result["operations"]))


if __name__ == "__main__":
    main()

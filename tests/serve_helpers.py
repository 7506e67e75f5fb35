"""Starting and stopping ``mrkcheck serve`` for the tests: in a thread (the service object,
127.0.0.1, a free port) or as a real process (``mrkcheck serve --port 0``)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from mrkcheck.registry import find_mutant, load_factory
from mrkcheck.serve.json_protocol import ServiceServer, start_in_thread
from mrkcheck.traces.conform_endpoint import boto3_clients
from mrkcheck.traces.kms_service import KmsService
from mrkcheck.traces.kms_world import ServeConfig

REGIONS = ("us-east-1", "eu-west-1", "ap-southeast-2")  # the model's default 3 Regions


@contextmanager
def serving(**config: Any) -> Iterator[tuple[str, KmsService]]:
    """A server on 127.0.0.1 and a free port, in a thread; stopped when the block ends."""
    mutant = config.get("mutant")
    build = find_mutant("kms", mutant).build if mutant else load_factory("kms")
    service = KmsService(ServeConfig(**config), build)
    server = ServiceServer(("127.0.0.1", 0), service)
    thread = start_in_thread(server)
    try:
        yield server.url, service
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
    assert server.errors == 0, "the server answered 500"


def control(url: str, path: str) -> Any:
    request = urllib.request.Request(f"{url}/_mrkcheck/{path}", data=b"", method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


def clients(url: str, regions: tuple[str, ...] = REGIONS) -> dict[str, Any]:
    """boto3 KMS clients on the server, one per Region, as conformance makes them."""
    return boto3_clients(regions, url)


@contextmanager
def serve_process(*argv: str) -> Iterator[tuple[str, subprocess.Popen]]:
    """``mrkcheck serve --port 0 ARGV`` as a process; its URL from the first line it prints.
    The block may stop it (SIGTERM); it is killed at the end if still running."""
    process = subprocess.Popen(
        [sys.executable, "-m", "mrkcheck", "serve", "--port", "0", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert "listening on " in line, line + (process.stderr.read() if process.stderr else "")
        yield line.split("listening on ", 1)[1].split()[0], process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(10)


def stop(process: subprocess.Popen, sig: int = signal.SIGTERM) -> tuple[int, str, str]:
    """SIGTERM (what CI runners and ``kill`` send) or SIGINT (Ctrl-C); the exit code and the rest
    of the output."""
    process.send_signal(sig)
    out, err = process.communicate(timeout=30)
    return process.returncode, out, err

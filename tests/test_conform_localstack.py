"""``mrkcheck conform`` against LocalStack: its answers are read as LocalStack means them, and
(slow, opt-in) a real LocalStack in host mode shows the divergences docs/conformance.md reports.

The answer forms below are copied from LocalStack 2026.3.0's source
(``localstack/aws/handlers/service.py``, ``localstack/aws/catalog_exceptions.py``) and from its
answers on the wire, as measured for docs/conformance.md."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("botocore")

from botocore.exceptions import ClientError  # noqa: E402

from mrkcheck.cli import main  # noqa: E402
from mrkcheck.traces.conform_endpoint import Endpoint  # noqa: E402

# An operation LocalStack community does not emulate (UpdatePrimaryRegion in 2026.3.0).
LICENSE = (
    "The API for service kms is either not included in your current license plan or has not "
    "yet been emulated by LocalStack."
)
# An operation with a skeleton but no handler.
NO_HANDLER = "no handler for operation 'UpdatePrimaryRegion' on service 'kms'"
# A provider that raised: LocalStack's JSON 500 (here: Encrypt given `...:key-mrk-...`).
CRASH = (
    "exception while calling kms.Encrypt: Supplied value of arn:aws:kms:us-east-1:000000000000:"
    "key-mrk-c41dbb6dd8314c3d889d4dc05a769dc4 is an ARN, but neither of a KMS key nor of a KMS "
    "key alias"
)


def _answer(status: int, code: str, message: str, operation: str) -> ClientError:
    """The ClientError botocore raises for LocalStack's JSON error body."""
    return ClientError(
        {
            "Error": {"Code": code, "Message": message},
            "ResponseMetadata": {"HTTPStatusCode": status},
        },
        operation,
    )


@pytest.mark.parametrize("message", [LICENSE, NO_HANDLER])
def test_localstack_not_implemented_is_its_own_outcome(message):
    """LocalStack answers an operation it lacks with HTTP 501 ``InternalFailure``: not
    implemented, whether or not the operation answered before."""
    endpoint = Endpoint(clients={})
    for _ in range(2):
        outcome = endpoint._failure(
            _answer(501, "InternalFailure", message, "UpdatePrimaryRegion"), "UpdatePrimaryRegion"
        )
        assert outcome.not_implemented, outcome
        endpoint.answered.add("UpdatePrimaryRegion")


def test_a_localstack_crash_is_an_error_not_a_missing_operation():
    """A provider exception is HTTP 500 with a KMS JSON body, code ``InternalError``: an ordinary
    (divergent) error, even from an operation that has never answered before, never "not
    implemented" (which would hide the crash behind ``--skip``)."""
    outcome = Endpoint(clients={})._failure(
        _answer(500, "InternalError", CRASH, "Encrypt"), "Encrypt"
    )
    assert not outcome.not_implemented
    assert outcome.error == "InternalError"
    assert outcome.as_dict()["result"] == "error"


# --- a real LocalStack, opt-in ------------------------------------------------------------------

LOCALSTACK_PYTHON = os.environ.get("MRKCHECK_LOCALSTACK", "")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _kms_ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_localstack/health", timeout=1) as answer:
            return json.load(answer).get("services", {}).get("kms") in ("available", "running")
    except (OSError, ValueError):
        return False


@pytest.fixture
def localstack_url(tmp_path) -> Iterator[str]:
    """LocalStack in host mode on 127.0.0.1 and a free port, from the Python interpreter named by
    MRKCHECK_LOCALSTACK (a virtual environment with localstack-core 2026.3.0, set up as
    docs/conformance.md says); started and stopped here, its files under tmp_path."""
    if not LOCALSTACK_PYTHON:
        pytest.skip(
            "set MRKCHECK_LOCALSTACK to the python of a venv with localstack-core 2026.3.0 "
            "(docs/conformance.md, Findings: LocalStack)"
        )
    port = _free_port()
    env = dict(
        os.environ,
        GATEWAY_LISTEN=f"127.0.0.1:{port}",
        FILESYSTEM_ROOT=str(tmp_path / "localstack"),
        SKIP_SSL_CERT_DOWNLOAD="1",
        DISABLE_EVENTS="1",
        DNS_ADDRESS="0",
    )
    log = (tmp_path / "localstack.log").open("w")
    proc = subprocess.Popen(
        [LOCALSTACK_PYTHON, "-m", "localstack.runtime.main"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while not _kms_ready(url):
            if proc.poll() is not None or time.monotonic() > deadline:
                tail = (tmp_path / "localstack.log").read_text()[-2000:]
                pytest.fail(f"LocalStack did not start:\n{tail}")
            time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@pytest.mark.slow
def test_localstack_divergences_we_document(localstack_url, tmp_path):
    """Kinds only, so a LocalStack fix changes the figures, not the verdict: UpdatePrimaryRegion
    is not implemented; ScheduleKeyDeletion answers the key ID where the ARN is documented; the
    ReplicateKey response has no ReplicaPolicy; each error and response finding comes with a
    shortest sequence."""
    report = tmp_path / "report.json"
    code = main(["conform", "--endpoint-url", localstack_url, "--runs", "3", "--length", "20",
                 "--key-ref", "id", "--seed", "1", "--json", str(report)])  # fmt: skip
    assert code == 12
    data = json.loads(Path(report).read_text())
    assert "UpdatePrimaryRegion" in data["not_implemented"], data["not_implemented"]
    found = {(f["kind"], f["action"], f["model"]) for f in data["findings"]}
    assert ("response", "ScheduleKeyDeletion", "KeyIdIsArn") in found, sorted(found)
    assert ("response", "ReplicateKey", "ReplicaPolicyPresent") in found, sorted(found)
    assert all(f["shortest"] for f in data["findings"] if f["kind"] in ("error", "response"))

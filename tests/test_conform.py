"""``mrkcheck conform``: the runner finds seeded bugs, stays quiet on the model itself, is
deterministic against moto, and fails cleanly on an unreachable endpoint."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("boto3")

from mrkcheck.cli import main  # noqa: E402
from mrkcheck.traces import conform as c  # noqa: E402
from mrkcheck.traces.conform_endpoint import normalise_error, view_of  # noqa: E402

EXAMPLES = Path(__file__).resolve().parent.parent / "traces" / "examples"
SHORT = c.Settings(runs=6, length=20, seed=1)
NO_UPDATE_COMPLETION = ("CompleteCreate", "Sync", "PrimaryDeletionStarts")


def run_fake(mutant: str, settings: c.Settings = SHORT, **kw) -> c.Report:
    eager = kw.pop("eager", None)
    return c.run_conformance(settings, c.mutant_clients(mutant, eager), f"fake {mutant}", **kw)


@pytest.fixture
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def moto_server_url(free_port) -> Iterator[str]:
    """moto_server on 127.0.0.1 and a free port, started and stopped here."""
    pytest.importorskip("moto.server")
    server = shutil.which("moto_server", path=str(Path(sys.executable).parent)) or shutil.which(
        "moto_server"
    )
    if server is None:
        pytest.skip("moto_server is not installed")
    proc = subprocess.Popen(
        [server, "-H", "127.0.0.1", "-p", str(free_port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", free_port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        else:
            pytest.fail("moto_server did not start")
        yield f"http://127.0.0.1:{free_port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


# --- the model against itself ---------------------------------------------------------------------


@pytest.mark.parametrize("eager", [None, (), NO_UPDATE_COMPLETION])
def test_the_model_conforms_to_itself(eager):
    """Whether the endpoint completes environment steps at once, never, or only some of them,
    the runner's rule (take the steps that explain what is seen) gives no false divergence."""
    report = run_fake("none", c.Settings(runs=12, length=25, seed=3), eager=eager)
    assert report.divergences == []
    assert report.exit_code == 0
    assert sum(r.calls for r in report.runs) == 12 * 25


def test_seeded_bug_second_replica_in_one_region_is_reported():
    """Mutant replicate_overwrites accepts a ReplicateKey into a Region that already holds the
    set's replica; the model predicts AlreadyExistsException."""
    report = run_fake("replicate_overwrites", c.Settings(runs=20, length=25))
    found = [
        d
        for d in report.divergences
        if d.label.startswith("ReplicateKey")
        and d.predicted.get("error") == "AlreadyExistsException"
        and d.endpoint["result"] == "success"
    ]
    assert found, report.text()
    assert report.exit_code == 12
    assert all(d.kind == "error" for d in report.divergences)


def test_replaying_the_mutants_counterexample_reports_it(tmp_path):
    trace = str(EXAMPLES / "kms-replicate_overwrites.itf.json")
    report = run_fake("replicate_overwrites", traces=[trace], out=str(tmp_path))
    [d] = report.divergences
    assert (d.kind, d.predicted["error"], d.endpoint["result"]) == (
        "error",
        "AlreadyExistsException",
        "success",
    )
    assert "§3.2.4" in d.rule
    assert run_fake("none", traces=[trace]).divergences == []


def test_an_update_accepted_while_updating_is_reported():
    trace = str(EXAMPLES / "kms-update_while_updating.itf.json")
    report = run_fake("update_while_updating", traces=[trace], eager=NO_UPDATE_COMPLETION)
    [d] = report.divergences
    assert d.label.startswith("UpdatePrimaryRegion") and d.predicted["error"].startswith(
        "KMSInvalid"
    )


def test_a_wrong_view_is_an_observation_divergence():
    """disable_related_keys: DisableKey also disables the other keys of the set; only DescribeKey
    can see that."""
    trace = str(EXAMPLES / "kms-disable_related_keys.itf.json")
    [d] = run_fake("disable_related_keys", traces=[trace]).divergences
    assert d.kind == "observation" and "KeyState" in d.rule
    assert any(v["KeyState"] == "Disabled" for v in d.endpoint.values())


def test_divergent_run_is_written_as_a_replayable_trace(tmp_path, capsys):
    trace = str(EXAMPLES / "kms-replicate_overwrites.itf.json")
    code = main(
        ["conform", "--against-mutant", "replicate_overwrites", "--trace", trace,
         "--out", str(tmp_path)]
    )  # fmt: skip
    assert code == 12
    [written] = sorted(tmp_path.glob("*.itf.json"))
    doc = json.loads(written.read_text())
    assert doc["#meta"]["status"] == "divergence"
    assert doc["#meta"]["divergence"]["predicted"]["error"] == "AlreadyExistsException"
    capsys.readouterr()
    # The trace is the model's run up to the divergence, so the model replays it.
    assert main(["trace", "check", str(written)]) == 0


# --- moto ------------------------------------------------------------------------------------------


def test_moto_in_process_is_deterministic(tmp_path):
    pytest.importorskip("moto")
    settings = c.Settings(runs=3, length=12, seed=7)
    first = c.run_conformance(settings, c.moto_in_process, "moto", out=str(tmp_path / "a"))
    second = c.run_conformance(settings, c.moto_in_process, "moto", out=str(tmp_path / "a"))
    assert first.as_dict() == second.as_dict()
    assert first.divergences, "moto 5.2 diverges (UpdatePrimaryRegion is not implemented, ...)"
    assert first.exit_code == 12


def test_moto_findings_we_document():
    """Findings recorded in docs/conformance.md, each reached with --key-ref id (moto crashes on
    some ARNs)."""
    pytest.importorskip("moto")
    settings = c.Settings(runs=10, length=25, key_ref="id")
    report = c.run_conformance(settings, c.moto_in_process, "moto")
    kinds = {(d.kind, d.label.split("(")[0]) for d in report.divergences}
    assert ("not implemented", "UpdatePrimaryRegion") in kinds
    assert ("response", "ReplicateKey") in kinds  # the replica says MultiRegionKeyType PRIMARY


def test_moto_with_skip_never_calls_the_skipped_action():
    pytest.importorskip("moto")
    settings = c.Settings(runs=3, length=15, skip=("UpdatePrimaryRegion",))
    report = c.run_conformance(settings, c.moto_in_process, "moto")
    assert not any(d.label.startswith("UpdatePrimaryRegion") for d in report.divergences)


def test_moto_server(moto_server_url, capsys):
    trace = str(EXAMPLES / "kms-promote_before_demote.itf.json")  # calls UpdatePrimaryRegion
    code = main(["conform", "--endpoint-url", moto_server_url, "--runs", "2", "--length", "10",
                 "--key-ref", "id", "--json"])  # fmt: skip
    out = json.loads(capsys.readouterr().out)
    assert code == 12 and out["exit_code"] == 12
    assert out["calls"] >= 2 and out["divergences"] >= 1
    code = main(["conform", "--endpoint-url", moto_server_url, "--trace", trace,
                 "--key-ref", "id", "--json"])  # fmt: skip
    out = json.loads(capsys.readouterr().out)
    assert code == 12
    # moto_server answers an unimplemented action with a bare HTTP 500: an InternalFailure.
    found = {(f["action"], f["endpoint"]) for f in out["findings"]}
    assert any(endpoint.startswith("InternalFailure") for _, endpoint in found), found


# --- bad input -------------------------------------------------------------------------------------


def test_unreachable_endpoint_is_one_line_and_150(free_port, capsys):
    code = main(["conform", "--endpoint-url", f"http://127.0.0.1:{free_port}", "--runs", "1"])
    err = capsys.readouterr().err
    assert code == 150
    assert err.count("\n") == 1 and "cannot reach" in err and "Traceback" not in err


@pytest.mark.parametrize(
    "argv",
    [
        ["--in-process", "--skip", "Frobnicate"],
        ["--in-process", "--regions", "9"],
        ["--against-mutant", "no_such_mutant"],
        ["--in-process", "--set", "colour=blue"],
        ["--in-process", "--trace", "/nonexistent.itf.json"],
    ],
)
def test_bad_input_is_150(argv, capsys):
    assert main(["conform", *argv]) == 150
    assert capsys.readouterr().err.count("\n") == 1


# --- small parts -----------------------------------------------------------------------------------


def test_error_names_are_normalised():
    assert normalise_error("KMSInvalidState") == "KMSInvalidStateException"
    assert normalise_error("kms#NotFoundException") == "NotFoundException"
    assert normalise_error("ValidationError") == "ValidationError"


def test_view_of_keeps_the_compared_fields():
    meta = {
        "KeyState": "Enabled",
        "Enabled": True,
        "MultiRegionConfiguration": {
            "MultiRegionKeyType": "REPLICA",
            "PrimaryKey": {"Arn": "a", "Region": "us-east-1"},
            "ReplicaKeys": [{"Region": "eu-west-1"}, {"Region": "ap-southeast-2"}],
        },
    }
    assert view_of(meta) == {
        "KeyState": "Enabled",
        "Enabled": True,
        "MultiRegionKeyType": "REPLICA",
        "PrimaryRegion": "us-east-1",
        "ReplicaRegions": ["ap-southeast-2", "eu-west-1"],
    }


def test_pending_deletion_may_be_disabled_exception_for_x23_cells():
    """§4 X2/3: a key pending deletion refuses crypto with DisabledException or
    KMSInvalidStateException."""
    from mrkcheck.lang.scenario import Scenario

    model = c.conform_model(c.Settings(regions="2"))
    sc = Scenario(model)
    sc.do("CreateKey", s="k1", r="us-east-1", origin="AWS_KMS")
    sc.do("ScheduleKeyDeletion", s="k1", r="us-east-1")
    inst = model.instance("Encrypt(s=k1, r=us-east-1)")
    assert c.accepted_errors(model, inst, sc.state) == (
        "KMSInvalidStateException",
        "DisabledException",
    )

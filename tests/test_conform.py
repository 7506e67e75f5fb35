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
from dataclasses import replace
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
    report = run_fake("replicate_overwrites", c.Settings(runs=20, length=25, seed=1))
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
    assert doc["#meta"]["call"]["action"] == "ReplicateKey" and doc["#meta"]["answer"]
    capsys.readouterr()
    # The trace is the model's run up to the divergence, so the model replays it.
    assert main(["trace", "check", str(written)]) == 0
    # The viewer names the divergent call, both answers and the rule.
    assert main(["trace", "show", str(written)]) == 0
    shown = capsys.readouterr().out
    assert "divergence (error) at ReplicateKey" in shown and "§3.2.4" in shown
    # Replaying its calls against the same (mutant) endpoint reproduces it.
    again = main(["conform", "--against-mutant", "replicate_overwrites", "--trace", str(written),
                  "--no-shrink"])  # fmt: skip
    assert again == 12 and "AlreadyExistsException" in capsys.readouterr().out


# --- moto ------------------------------------------------------------------------------------------


def test_moto_in_process_is_deterministic(tmp_path):
    pytest.importorskip("moto")
    settings = c.Settings(runs=3, length=12, seed=7, shrink=False)
    first = c.run_conformance(settings, c.moto_in_process, "moto", out=str(tmp_path / "a"))
    second = c.run_conformance(settings, c.moto_in_process, "moto", out=str(tmp_path / "a"))
    assert first.as_dict() == second.as_dict()
    assert first.divergences, "moto 5.2 diverges (UpdatePrimaryRegion is not implemented, ...)"
    assert first.exit_code == 12


def test_moto_findings_we_document():
    """Findings recorded in docs/conformance.md, each reached with --key-ref id (moto crashes on
    some ARNs)."""
    pytest.importorskip("moto")
    settings = c.Settings(runs=4, length=20, key_ref="id", shrink=False)
    report = c.run_conformance(settings, c.moto_in_process, "moto")
    kinds = {(d.kind, d.label.split("(")[0]) for d in report.divergences}
    assert ("not implemented", "UpdatePrimaryRegion") in kinds
    assert ("response", "ReplicateKey") in kinds  # the replica says MultiRegionKeyType PRIMARY


def test_moto_with_skip_never_calls_the_skipped_action():
    pytest.importorskip("moto")
    settings = c.Settings(runs=2, length=15, skip=("UpdatePrimaryRegion",), shrink=False)
    report = c.run_conformance(settings, c.moto_in_process, "moto")
    assert not any(d.label.startswith("UpdatePrimaryRegion") for d in report.divergences)


def test_moto_server_is_tested_after_its_first_replicate_divergence(moto_server_url):
    """moto 5.2.5 answers ReplicateKey with MultiRegionKeyType PRIMARY (and then shows the
    primary as a REPLICA): the runs go on after it (resynchronisation), so divergences of calls
    made after that first ReplicateKey divergence are found, each with a shortest sequence no
    longer than the calls that led to it. Only kinds are asserted, not exact lists."""
    settings = c.Settings(runs=1, length=14, seed=0, key_ref="id")
    report = c.run_conformance(settings, c.url_clients(moto_server_url), "moto_server")
    kinds = {(d.kind, d.action) for d in report.divergences}
    assert ("response", "ReplicateKey") in kinds, report.text()
    after = [
        d
        for run in report.runs
        for d in run.divergences
        if d.action != "ReplicateKey"
        and d.kind in ("error", "response", "observation")
        and d.call
        > min((x.call for x in run.divergences if x.action == "ReplicateKey"), default=99)
    ]
    assert after, report.text()
    for finding in report.findings():
        if finding.signature[0] == "not implemented":
            continue
        assert finding.shortest is not None, finding.lines()
        assert (
            finding.shortest[-1].startswith(finding.example.action)
            or finding.signature[0] == "observation"
        )


def test_a_moto_server_divergence_trace_replays_to_the_same_divergence(
    moto_server_url, tmp_path, capsys
):
    """The saved trace holds the calls (probes and key references included), the divergent
    call and the endpoint's answer; replaying it against the same endpoint exits 12 with the
    same finding."""
    out = tmp_path / "out"
    code = main(["conform", "--endpoint-url", moto_server_url, "--runs", "1", "--length", "6",
                 "--key-ref", "id", "--seed", "0", "--out", str(out)])  # fmt: skip
    assert code == 12
    capsys.readouterr()
    written = sorted(out.glob("conform-*-error.itf.json")) + sorted(
        out.glob("conform-*-response.itf.json")
    )
    doc = json.loads(written[0].read_text())
    meta = doc["#meta"]
    assert meta["status"] == "divergence" and meta["call"]["action"] and meta["answer"]
    code = main(["conform", "--endpoint-url", moto_server_url, "--trace", str(written[0]),
                 "--no-shrink", "--json"])  # fmt: skip
    replayed = json.loads(capsys.readouterr().out)
    assert code == 12
    sig = (meta["divergence"]["kind"], meta["divergence"]["label"].split("(")[0])
    assert sig in {(f["kind"], f["action"].split(" ")[0]) for f in replayed["findings"]}


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
        ["--in-process", "--length", "5000"],
        ["--in-process", "--hypothesis-replays", "-1"],
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


# --- issue 12: coverage, resynchronisation, documented readings, not implemented, shrinking -------

CONFIGS = [
    (regions, key_sets, origins)
    for regions in ("2", "3", "4", "5")
    for key_sets in (1, 2, 3)
    for origins in ("AWS_KMS", "AWS_KMS,EXTERNAL")
]
DEFAULT_CONFIGS = [("2", 1, "AWS_KMS,EXTERNAL"), ("4", 3, "AWS_KMS")]
LAZY = 0.5  # the fake completes environment steps after half the calls: both sides of each seen


def _fake_run(
    regions: str, key_sets: int, origins: str, runs: int, length: int, seed: int = 1
) -> c.Report:
    settings = c.Settings(
        regions=regions, key_sets=key_sets, origins=origins, runs=runs, length=length, seed=seed
    )
    return c.run_conformance(settings, c.mutant_clients("none", None, LAZY), "the model")


@pytest.mark.parametrize(
    "config",
    [pytest.param(x, marks=[] if x in DEFAULT_CONFIGS else [pytest.mark.slow]) for x in CONFIGS],
    ids=lambda x: f"{x[0]}r-{x[1]}k-{x[2].replace(',', '+')}",
)
def test_the_model_adapter_never_diverges(config):
    """Regions 2-5, key sets 1-3, one or both origins: probes, key references of both forms and
    an endpoint that completes environment steps only sometimes give no divergence."""
    report = _fake_run(*config, runs=6, length=30)
    assert report.divergences == [], report.text()
    assert sum(r.calls for r in report.runs) == 6 * 30


@pytest.mark.parametrize(
    "config",
    [("3", 2, "AWS_KMS,EXTERNAL"), pytest.param(("5", 3, "AWS_KMS,EXTERNAL"), marks=pytest.mark.slow),
     pytest.param(("2", 1, "AWS_KMS"), marks=pytest.mark.slow)],
    ids=lambda x: f"{x[0]}r-{x[1]}k-{x[2].replace(',', '+')}",
)  # fmt: skip
def test_every_documented_outcome_is_reached_without_divergence(config):
    """The coverage table: every documented outcome (success and each exception, probes'
    included) of every driven operation is exercised, and the model adapter agrees."""
    # Seeded: 40 runs of 40 calls (60 on 5 Regions x 3 key sets) reach every outcome with seed 4;
    # with other seeds one or two of the rarest (a rotation call on a Disabled key) may be missing.
    report = _fake_run(*config, runs=60 if config[0] == "5" else 40, length=40, seed=4)
    assert report.divergences == []
    assert report.not_reached() == [], report.text()
    assert {"ValidationException", "InvalidArnException"} <= set(report.documented["ReplicateKey"])
    assert "never reached: none" in report.text()


def test_coverage_names_outcomes_never_reached():
    report = c.run_conformance(c.Settings(runs=1, length=3), c.mutant_clients("none"), "fake")
    missing = report.not_reached()
    assert ("CancelKeyDeletion", "success") in missing
    assert "never reached: " in report.text() and "CancelKeyDeletion success" in report.text()


def _replay(mutant, calls: list, strict: bool = False, eager=None) -> c.Run:
    settings = c.Settings(regions="3", key_sets=1, strict=strict)
    clients = mutant if callable(mutant) else c.mutant_clients(mutant, eager)
    return c.Driver(clients).run("t", settings, calls)


def _edited_model_clients(edit):
    """A fake endpoint answering from the model as ``edit`` changes it."""
    from contextlib import contextmanager

    from mrkcheck.traces.conform_fake import model_clients

    @contextmanager
    def open_clients(regions, settings):
        yield model_clients(edit(c.conform_model(settings)))

    return open_clients


def _call(label: str, probe: str = "", ref: str = "arn") -> c.Call:
    action, _, rest = label.partition("(")
    params = tuple(tuple(p.split("=")) for p in rest.rstrip(")").split(", "))
    return c.Call(action, params, ref, probe)  # type: ignore[arg-type]


CREATE = "CreateKey(s=k1, r=us-east-1, origin=AWS_KMS)"
REPLICATE = "ReplicateKey(s=k1, r=us-east-1, replica=eu-west-1)"


def test_guard_order_is_a_documented_choice_unless_strict():
    """Q16: replicating a Disabled replica fails two guards (role: UnsupportedOperation, then
    state: Disabled). Mutant replicate_from_replica drops the role guard, so it answers
    DisabledException: accepted by default (the reading is reported), a divergence with
    --strict."""
    calls = [_call(CREATE), _call(REPLICATE), _call("DisableKey(s=k1, r=eu-west-1)"),
             _call("ReplicateKey(s=k1, r=eu-west-1, replica=ap-southeast-2)")]  # fmt: skip
    lenient = _replay("replicate_from_replica", calls)
    assert lenient.divergences == []
    assert any(rule == "Q16 guard order" for rule, _ in lenient.readings), lenient.readings
    strict = _replay("replicate_from_replica", calls, strict=True)
    [d] = strict.divergences
    assert (d.kind, d.predicted["error"], d.endpoint["error"]) == (
        "error", "UnsupportedOperationException", "DisabledException")  # fmt: skip


def test_inferred_rotate_on_demand_row_accepts_success_unless_strict():
    """§4 marks the RotateKeyOnDemand row inferred [I]: an endpoint that rotates a Disabled
    primary (the row's Disabled cell dropped) is following a documented reading by default;
    --strict predicts DisabledException."""
    from mrkcheck.lang.mutation import drop_guard

    calls = [_call(CREATE), _call("DisableKey(s=k1, r=us-east-1)"),
             _call("RotateKeyOnDemand(s=k1, r=us-east-1)")]  # fmt: skip
    mutant = _edited_model_clients(
        lambda m: drop_guard(m, "RotateKeyOnDemand", "§4", key_state="Disabled")
    )
    lenient = _replay(mutant, calls)
    assert lenient.divergences == [], [d.line() for d in lenient.divergences]
    assert ("§4 [I] RotateKeyOnDemand row", "success in Disabled") in lenient.readings
    strict = _replay(mutant, calls, strict=True)
    assert [d.kind for d in strict.divergences] == ["error"]


def test_probes_check_windows_arns_and_regions():
    """Inputs the model has no parameter for: windows 6 and 31 refused, 7 and 30 accepted; a
    malformed ARN and another Region's ARN refused; malformed and unknown Region names refused;
    a single-Region key not replicated; optional parameters not copied from the primary."""
    calls = [_call(CREATE)]
    calls += [_call(REPLICATE, probe) for probe in
              ("malformed-region", "unknown-region", "single-region-key", "params")]  # fmt: skip
    calls += [
        _call("EnableKey(s=k1, r=us-east-1)", p) for p in ("malformed-arn", "other-region-arn")
    ]
    calls += [_call("ScheduleKeyDeletion(s=k1, r=eu-west-1)", p) for p in ("window-6", "window-31")]
    calls += [_call("ScheduleKeyDeletion(s=k1, r=eu-west-1)", "window-30")]
    run = _replay("none", calls)
    assert run.divergences == []
    outcomes = dict(run.coverage)
    assert outcomes[("ReplicateKey", "ValidationException")] == 1
    assert outcomes[("ReplicateKey", "UnsupportedOperationException")] == 2
    assert outcomes[("EnableKey", "InvalidArnException")] == 1
    assert outcomes[("ScheduleKeyDeletion", "ValidationException")] == 2
    assert run.scenario.value("key_state", "k1", "eu-west-1") == "PendingDeletion"


def test_response_fields_are_compared():
    """A replica whose description is copied from the primary, a key ID not of the form
    mrk-<32 hex>, DeletionDate present for a primary with replicas: each a response divergence
    naming its rule."""
    from mrkcheck.traces import conform_fake

    calls = [_call(CREATE), _call(REPLICATE), _call("ScheduleKeyDeletion(s=k1, r=us-east-1)")]
    original = conform_fake.ModelKms.key_id
    conform_fake.ModelKms.key_id = lambda self, s: "mrk-" + original(self, s)[4:20]  # type: ignore[method-assign]
    try:
        run = _replay("none", calls)
    finally:
        conform_fake.ModelKms.key_id = original  # type: ignore[method-assign]
    fields = {next(iter(d.predicted)) for d in run.divergences if d.kind == "response"}
    assert fields == {"KeyIdFormat"}, [d.line() for d in run.divergences]
    assert all("§1" in d.rule for d in run.divergences)


@pytest.mark.parametrize(
    "code,status,message,expected",
    [
        ("NotImplemented", 400, "", True),
        ("500", 501, "", True),
        ("500", 500, "<html>Internal Server Error</html>", True),  # moto_server's page
        ("InvalidAction", 400, "Unknown action RotateKeyOnDemand", True),  # MiniStack
        ("UnknownOperationException", 400, "", True),
        ("UnknownOperation", 400, "", True),
        ("ValidationException", 400, "bad input", False),
        ("KMSInternalException", 500, "oops", False),
    ],
)
def test_not_implemented_in_the_forms_emulators_use(code, status, message, expected):
    from mrkcheck.traces.conform_endpoint import is_not_implemented

    assert is_not_implemented(code, status, message) is expected


def test_not_a_kms_endpoint_is_one_line(free_port, capsys):
    """A server answering HTTP 200 with an HTML page: one line, 150, no report."""
    import http.server
    import threading

    class Page(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            body = b"<html><body>hello</body></html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", free_port), Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        code = main(["conform", "--endpoint-url", f"http://127.0.0.1:{free_port}", "--runs", "3"])
    finally:
        server.shutdown()
        server.server_close()
    captured = capsys.readouterr()
    assert code == 150 and captured.out == ""
    assert captured.err.count("\n") == 1 and "is not a KMS endpoint" in captured.err


def test_an_endpoint_dying_mid_run_keeps_the_finished_runs(tmp_path, capsys):
    """The 40th request fails to connect: the runs before it are reported (text and JSON), and
    the message names the run and the call."""
    from botocore.exceptions import EndpointConnectionError

    inner = c.mutant_clients("none")
    budget = [40]

    class Dying:
        def __init__(self, client):
            self.client = client
            self.region = client.region

        def __getattr__(self, name):
            method = getattr(self.client, name)

            def call(*args, **kwargs):
                budget[0] -= 1
                if budget[0] < 0:
                    raise EndpointConnectionError(endpoint_url="http://127.0.0.1:9")
                return method(*args, **kwargs)

            return call

    from contextlib import contextmanager

    @contextmanager
    def dying(regions, settings):
        with inner(regions, settings) as clients:
            yield {r: Dying(x) for r, x in clients.items()}

    report = c.run_conformance(c.Settings(runs=5, length=6, probes=0), dying, "dying")
    assert report.exit_code == 150
    assert report.runs and len(report.runs) < 5
    assert "stopped answering during conformance run" in report.cut and "call " in report.cut
    assert report.as_dict()["cut"] == report.cut and report.as_dict()["runs"] == len(report.runs)


def test_readable_findings_name_the_rule_and_the_fields():
    report = run_fake("no_pending_replica_deletion", c.Settings(runs=6, length=20, seed=2))
    text = report.text()
    assert "rule: §" in text and "shortest (" in text
    observations = [d for d in report.divergences if d.kind == "observation"]
    assert observations and all("differs: KeyState" in d.rule for d in observations)


# --- seeded mutants: found and shrunk -------------------------------------------------------------

FOUND_BY_CONFORM = [
    "replicate_overwrites",
    "replicate_from_replica",
    "replicate_pending_deletion_primary",
    "cancel_not_pending",
    "rotate_on_replica",
    "update_target_not_enabled",
    "disable_related_keys",
    "promote_before_demote",
    "no_pending_replica_deletion",
    "schedule_by_membership",
]
SEES_CREATING = ("update_target_not_enabled",)
DEFAULT_MUTANTS = ("replicate_overwrites", "promote_before_demote", "schedule_by_membership")


def _shortest_counterexample(mutant: str) -> int:
    doc = json.loads((EXAMPLES / f"kms-{mutant}.itf.json").read_text())
    return len(doc["states"]) - 1


@pytest.mark.parametrize(
    "mutant",
    [pytest.param(m, marks=[] if m in DEFAULT_MUTANTS else [pytest.mark.slow])
     for m in FOUND_BY_CONFORM],
)  # fmt: skip
def test_seeded_mutants_are_found_and_shrunk(mutant):
    """Each mutant served through the adapter is found; every finding's shortest sequence has at
    most as many calls as the mutant's shortest counterexample has steps (BFS, pinned in
    traces/examples); the observation calls come on top, as DescribeKey after each call."""
    # The shortest counterexample of update_target_not_enabled uses the Creating window, which a
    # fake that completes creation at once never shows (it is then found with a Disabled target,
    # one call longer): serve it from a fake that leaves replicas Creating.
    eager = ("CompleteUpdate", "Sync", "PrimaryDeletionStarts") if mutant in SEES_CREATING else None
    # replicate_from_replica shows only on a ReplicateKey from an Enabled replica, a refused call
    # among many: about one call in 1,000 here, so it gets more runs.
    runs = 80 if mutant == "replicate_from_replica" else 40
    report = run_fake(mutant, c.Settings(runs=runs, length=30, seed=0), eager=eager)
    findings = [f for f in report.findings() if f.signature[0] != "not implemented"]
    assert findings, f"{mutant} not found"
    bound = _shortest_counterexample(mutant)
    shortest = min(len(f.shortest or [99]) for f in findings)
    assert shortest <= bound, [f.lines() for f in findings]


def test_stale_replica_lists_are_eventual_consistency_unless_strict():
    """§6: other keys' ReplicaKeys may lag after ReplicateKey. An endpoint whose primary does not
    list a new replica until the next call is accepted by default (reading: eventual
    consistency) and an observation divergence with --strict."""
    from contextlib import contextmanager

    inner = c.mutant_clients("none")

    class Lagging:
        """The primary's DescribeKey hides the newest replica once, right after ReplicateKey."""

        def __init__(self, client, lag):
            self.client, self.lag, self.region = client, lag, client.region

        def __getattr__(self, name):
            return getattr(self.client, name)

        def replicate_key(self, **kw):
            out = self.client.replicate_key(**kw)
            self.lag[kw["ReplicaRegion"]] = True
            return out

        def describe_key(self, KeyId):  # noqa: N803
            out = self.client.describe_key(KeyId=KeyId)
            conf = out["KeyMetadata"]["MultiRegionConfiguration"]
            hidden = [r for r, on in self.lag.items() if on and r != self.region]
            if conf["MultiRegionKeyType"] == "PRIMARY" and hidden:
                conf["ReplicaKeys"] = [k for k in conf["ReplicaKeys"] if k["Region"] not in hidden]
                self.lag.clear()
            return out

    @contextmanager
    def lagging(regions, settings):
        lag: dict[str, bool] = {}
        with inner(regions, settings) as clients:
            yield {r: Lagging(x, lag) for r, x in clients.items()}

    calls = [_call(CREATE), _call(REPLICATE), _call("EnableKey(s=k1, r=us-east-1)")]
    lenient = _replay(lagging, calls)
    assert lenient.divergences == [], [d.line() for d in lenient.divergences]
    assert ("§6 eventual consistency", "stale ReplicaKeys/PrimaryKey") in lenient.readings
    strict = _replay(lagging, calls, strict=True)
    assert [(d.kind, d.rule) for d in strict.divergences] == [
        ("observation", "differs: ReplicaRegions (§3.11, §6)")
    ]


# --- issue 12 item 5: Hypothesis generates the runs and shrinks the findings -----------------------


def test_the_same_seed_gives_the_same_findings_and_shortest_sequences(tmp_path):
    """Runs are Hypothesis examples under --seed: the same seed against the same endpoint gives
    the same report (every run, finding, count and shortest sequence) and the same traces; a
    different seed makes other runs and still finds the seeded bug, shrunk."""
    settings = c.Settings(runs=20, length=25, seed=1)
    first = run_fake("replicate_overwrites", settings, out=str(tmp_path / "a"))
    again = run_fake("replicate_overwrites", settings, out=str(tmp_path / "b"))
    assert first.as_dict()["findings"], first.text()
    assert [f.shortest for f in first.findings()] == [f.shortest for f in again.findings()]
    one, two = first.as_dict(), again.as_dict()
    for report in (one, two):
        for finding in report["findings"]:
            finding["trace"] = Path(finding["trace"]).name if finding["trace"] else None
    assert one == two
    written = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert written and written == sorted(p.name for p in (tmp_path / "b").iterdir())
    for name in written:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    other = run_fake("replicate_overwrites", replace(settings, seed=2))
    assert [r.as_dict() for r in other.divergences] != [r.as_dict() for r in first.divergences]
    found = [
        f for f in other.findings() if f.example.predicted.get("error") == "AlreadyExistsException"
    ]
    assert found and found[0].shortest is not None
    # Shrunk: with seed 2 the second replica lands in the Region an UpdatePrimaryRegion left a
    # replica in, one call longer than the mutant's shortest counterexample (3 calls).
    assert len(found[0].shortest) <= min(found[0].example.call, 4)
    assert found[0].shortest[-1].startswith("ReplicateKey")
    assert "seed: 2 (rerun with --seed 2" in other.text() and other.as_dict()["seed"] == 2


def test_a_run_draws_only_calls_the_model_can_make():
    """The rules' preconditions: every call drawn is callable in the model's state when it is
    made (no CreateKey of an existing set, no Decrypt without ciphertext, no RotateKeyOnDemand
    refused only by the model's version bound), whatever Hypothesis draws."""
    settings = c.Settings(runs=8, length=30, seed=5, shrink=False)
    driver = c.Driver(c.mutant_clients("none"))
    made: list[bool] = []
    original = c.Run.step

    def step(run, call):
        made.append(c.is_callable(run.model.instance(call.model_label), run.scenario.state))
        return original(run, call)

    c.Run.step = step  # type: ignore[method-assign]
    try:
        c.Search(driver, settings).generate(lambda number, run: None)
    finally:
        c.Run.step = original  # type: ignore[method-assign]
    assert len(made) == 8 * 30 and all(made)


def test_replicate_key_policy_is_sent_and_compared():
    """The params probe gives ReplicateKey a Policy document; the response's ReplicaPolicy must
    be it (§3.2 output; §2: the key policy is independent). An endpoint that ignores it (answers
    the default policy) is a response divergence naming the field."""
    from contextlib import contextmanager

    calls = [_call(CREATE), _call(REPLICATE, "params")]
    assert _replay("none", calls).divergences == []
    inner = c.mutant_clients("none")

    class IgnoresPolicy:
        def __init__(self, client):
            self.client, self.region = client, client.region

        def __getattr__(self, name):
            return getattr(self.client, name)

        def replicate_key(self, **kw):
            assert "Policy" in kw and json.loads(kw["Policy"])["Statement"]
            kw.pop("Policy")
            return self.client.replicate_key(**kw)

    @contextmanager
    def ignoring(regions, settings):
        with inner(regions, settings) as clients:
            yield {r: IgnoresPolicy(x) for r, x in clients.items()}

    [d] = _replay(ignoring, calls).divergences
    assert (d.kind, d.predicted, d.endpoint) == (
        "response", {"ReplicaPolicy": "the Policy sent"}, {"ReplicaPolicy": "another policy"})  # fmt: skip
    assert "§3.2" in d.rule


@pytest.mark.parametrize("budget", [0, 6])
def test_hypothesis_shrinker_replays_only_when_asked(budget):
    """Each finding of a generated run is re-found by Hypothesis under the same seed; its
    shrinker replays candidates on the endpoint only with hypothesis_replays (at most that many
    per finding), and either way the finding is shrunk to the mutant's shortest counterexample."""
    settings = c.Settings(runs=20, length=25, seed=1, hypothesis_replays=budget)
    original = c.Driver.run
    candidates: list[int] = []

    def run(self, run_id, s, calls=None, draws=None, stop_on=None, limit=None, number=0):
        if draws is not None and stop_on is not None and limit is not None:
            candidates.append(limit)  # a shrinking candidate: a best run exists
        return original(self, run_id, s, calls, draws, stop_on, limit, number)

    c.Driver.run = run  # type: ignore[method-assign]
    try:
        report = run_fake("replicate_overwrites", settings)
    finally:
        c.Driver.run = original  # type: ignore[method-assign]
    findings = report.findings()
    assert findings and all(f.shortest is not None for f in findings)
    assert min(len(f.shortest or []) for f in findings) <= 3
    if budget:
        assert 0 < len(candidates) <= budget * len(findings)
    else:
        assert candidates == []

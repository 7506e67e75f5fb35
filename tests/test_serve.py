"""``mrkcheck serve`` (issue 13): the model as a KMS endpoint, over real sockets on 127.0.0.1.

Each test starts and stops its own server (a thread, or a ``mrkcheck serve`` process)."""

from __future__ import annotations

import base64
import http.client
import json
import signal
import socket
import struct
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from serve_helpers import REGIONS, clients, control, serve_process, serving, stop

from mrkcheck.cli import main
from mrkcheck.lang.scenario import Scenario
from mrkcheck.registry import load_factory
from mrkcheck.traces import conform as c
from mrkcheck.traces.itf import from_itf
from mrkcheck.traces.kms_service import KMS_OPERATIONS
from mrkcheck.traces.replay import replay

EAST, WEST, SYDNEY = REGIONS


def code(exc: ClientError) -> str:
    return exc.response["Error"]["Code"]


def replays(doc: dict) -> str:
    """The verdict of replaying a served trace on the model its header names."""
    options = dict(doc["#meta"]["options"])
    model = load_factory("kms")(**options)
    return replay(model, from_itf(doc, model.schema)).line()


def test_a_key_id_names_its_model_instance():
    """Keys 1-3 are k1-k3 of instance 1, key 4 is k1 of instance 2: each trace a model run."""
    with serving() as (url, service):
        east = clients(url)[EAST]
        ids = [east.create_key(MultiRegion=True)["KeyMetadata"]["KeyId"] for _ in range(4)]
        keys = [service.world.by_id[i] for i in ids]
        assert [(k.instance, k.key_set) for k in keys] == [
            (0, "k1"),
            (0, "k2"),
            (0, "k3"),
            (1, "k1"),
        ]
        assert json.loads(json.dumps(control(url, "state")))["instances"] == 2


# --- conformance over HTTP --------------------------------------------------------------------------

CONFORMANCE = [  # the configurations of tests/test_conform.py (the longest one is slow)
    c.Settings(runs=6, length=20, seed=1),
    pytest.param(c.Settings(runs=12, length=25, seed=3), marks=pytest.mark.slow),
    c.Settings(runs=10, length=25, key_ref="id"),
]


@pytest.mark.parametrize("settings", CONFORMANCE)
def test_conform_finds_no_divergence_against_serve(settings):
    with serving() as (url, _):
        report = c.run_conformance(settings, c.url_clients(url), url)
    assert report.divergences == [], report.text()
    assert sum(r.calls for r in report.runs) == settings.runs * settings.length


@pytest.mark.parametrize(
    "mutant, kind",
    [
        ("replicate_overwrites", "error"),
        ("no_pending_replica_deletion", "response"),
        ("cancel_not_pending", "error"),
    ],
)
def test_conform_finds_the_mutant_served(mutant, kind):
    with serving(mutant=mutant) as (url, _):
        # long enough to reach each mutant's call (replicating onto an existing key takes a few)
        settings = c.Settings(runs=12, length=25, seed=0)
        report = c.run_conformance(settings, c.url_clients(url), url)
    assert kind in {d.kind for d in report.divergences}, report.text()


def test_conform_command_line_against_a_serve_process(capsys):
    """The two commands as a user runs them: ``mrkcheck serve --mutant`` in its own process."""
    argv = ["conform", "--runs", "6", "--length", "20", "--seed", "1"]
    with serve_process("--mutant", "cancel_not_pending") as (url, process):
        status = main([*argv, "--endpoint-url", url])
        stop(process)
    out = capsys.readouterr().out
    assert status == 12, out
    assert "CancelKeyDeletion: model KMSInvalidStateException; endpoint success" in out


# --- a full multi-Region life cycle ---------------------------------------------------------------


def test_boto3_multi_region_life_cycle():
    with serving(transients="manual") as (url, _):
        kms = clients(url)
        created = kms[EAST].create_key(MultiRegion=True, Description="orders")["KeyMetadata"]
        arn, key_id = created["Arn"], created["KeyId"]
        assert (created["KeyState"], created["MultiRegionConfiguration"]["MultiRegionKeyType"]) == (
            "Enabled",
            "PRIMARY",
        )
        for region in (WEST, SYDNEY):
            replica = kms[EAST].replicate_key(KeyId=arn, ReplicaRegion=region)
            assert replica["ReplicaKeyMetadata"]["KeyState"] == "Creating"
        assert len(control(url, "settle")["taken"]) >= 2
        assert kms[SYDNEY].describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Enabled"

        blob = kms[EAST].encrypt(KeyId=arn, Plaintext=b"card 4111")["CiphertextBlob"]
        assert b"card" not in blob
        assert kms[SYDNEY].decrypt(CiphertextBlob=blob)["Plaintext"] == b"card 4111"
        context = {"order": "17"}
        sealed = kms[WEST].encrypt(KeyId=key_id, Plaintext=b"x", EncryptionContext=context)
        tampered = blob[:-1] + bytes([blob[-1] ^ 1])
        with pytest.raises(ClientError) as changed_byte:
            kms[WEST].decrypt(CiphertextBlob=tampered)
        assert code(changed_byte.value) == "InvalidCiphertextException"
        with pytest.raises(ClientError) as wrong_context:
            kms[EAST].decrypt(CiphertextBlob=sealed["CiphertextBlob"])
        assert code(wrong_context.value) == "InvalidCiphertextException"
        other = kms[EAST].create_key(MultiRegion=True)["KeyMetadata"]["KeyId"]
        with pytest.raises(ClientError) as wrong_key:
            kms[EAST].decrypt(CiphertextBlob=blob, KeyId=other)
        assert code(wrong_key.value) == "IncorrectKeyException"
        lonely = kms[EAST].encrypt(KeyId=other, Plaintext=b"y")["CiphertextBlob"]
        with pytest.raises(ClientError) as unrelated:  # no related key in that Region
            kms[WEST].decrypt(CiphertextBlob=lonely)
        assert code(unrelated.value) == "NotFoundException"

        kms[EAST].update_primary_region(KeyId=arn, PrimaryRegion=WEST)
        assert kms[EAST].describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Updating"
        assert kms[WEST].describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Updating"
        control(url, "settle")
        west = kms[WEST].describe_key(KeyId=key_id)["KeyMetadata"]["MultiRegionConfiguration"]
        assert (west["MultiRegionKeyType"], west["PrimaryKey"]["Region"]) == ("PRIMARY", WEST)

        scheduled = kms[WEST].schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
        assert scheduled["KeyState"] == "PendingReplicaDeletion"  # it still has replicas
        kms[WEST].cancel_key_deletion(KeyId=key_id)
        assert kms[WEST].describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Disabled"
        done = kms[SYDNEY].schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
        assert done["KeyState"] == "PendingDeletion" and "DeletionDate" in done
        control(url, "advance?days=8")
        with pytest.raises(ClientError) as gone:
            kms[SYDNEY].describe_key(KeyId=key_id)
        assert code(gone.value) == "NotFoundException"
        assert replays(control(url, "trace")).startswith("the trace is a run of the model")


def test_replicate_key_answers_the_policy_given():
    """A replica's key policy is its own: ReplicaPolicy is the Policy sent (§3.2), the default
    without one, and a Policy that is not JSON is refused as KMS refuses it."""
    policy = json.dumps({"Version": "2012-10-17", "Statement": [{"Sid": "mine"}]})
    with serving() as (url, _):
        kms = clients(url)
        arn = kms[EAST].create_key(MultiRegion=True)["KeyMetadata"]["Arn"]
        given = kms[EAST].replicate_key(KeyId=arn, ReplicaRegion=WEST, Policy=policy)
        assert json.loads(given["ReplicaPolicy"]) == json.loads(policy)
        default = kms[EAST].replicate_key(KeyId=arn, ReplicaRegion=SYDNEY)
        assert json.loads(default["ReplicaPolicy"])["Statement"]
        with pytest.raises(ClientError) as refused:
            kms[EAST].replicate_key(KeyId=arn, ReplicaRegion=WEST, Policy="{not json")
        assert code(refused.value) == "MalformedPolicyDocumentException"


def aws(*argv: str, capsys) -> dict:
    """One AWS CLI command, in this process (the CLI's start-up takes a second per process)."""
    from awscli.clidriver import create_clidriver

    status = create_clidriver().main([*argv, "--output", "json"])
    out = capsys.readouterr()
    assert status == 0, out.err
    return json.loads(out.out) if out.out.strip() else {}


def test_aws_cli_multi_region_life_cycle(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    with serving(transients="manual") as (url, _):

        def kms(region: str, *argv: str) -> dict:
            return aws("kms", *argv, "--endpoint-url", url, "--region", region, capsys=capsys)

        key = kms(EAST, "create-key", "--multi-region", "--description", "cli")["KeyMetadata"]
        key_id = key["KeyId"]
        for region in (WEST, SYDNEY):
            out = kms(EAST, "replicate-key", "--key-id", key_id, "--replica-region", region)
            assert out["ReplicaKeyMetadata"]["KeyState"] == "Creating"
        control(url, "settle")
        (tmp_path / "plain").write_bytes(b"hello from the CLI")
        plain = f"fileb://{tmp_path / 'plain'}"  # AWS CLI v1 sends a string argument as is
        blob = kms(EAST, "encrypt", "--key-id", key_id, "--plaintext", plain)["CiphertextBlob"]
        (tmp_path / "blob").write_bytes(base64.b64decode(blob))
        blob_file = f"fileb://{tmp_path / 'blob'}"
        back = kms(SYDNEY, "decrypt", "--ciphertext-blob", blob_file)["Plaintext"]
        assert base64.b64decode(back) == b"hello from the CLI"
        kms(EAST, "update-primary-region", "--key-id", key_id, "--primary-region", WEST)
        seen = kms(EAST, "describe-key", "--key-id", key_id)["KeyMetadata"]
        assert seen["KeyState"] == "Updating"
        control(url, "settle")
        seen = kms(WEST, "describe-key", "--key-id", key_id)["KeyMetadata"]
        assert seen["MultiRegionConfiguration"]["MultiRegionKeyType"] == "PRIMARY"
        out = kms(
            WEST, "schedule-key-deletion", "--key-id", key_id, "--pending-window-in-days", "7"
        )
        assert out["KeyState"] == "PendingReplicaDeletion"
        kms(WEST, "cancel-key-deletion", "--key-id", key_id)
        assert (
            kms(WEST, "describe-key", "--key-id", key_id)["KeyMetadata"]["KeyState"] == "Disabled"
        )


# --- transients -----------------------------------------------------------------------------------


def test_realistic_holds_creating_then_completes():
    with serving(transients="realistic", delay=0.3) as (url, _):
        kms = clients(url)
        key_id = kms[EAST].create_key(MultiRegion=True)["KeyMetadata"]["KeyId"]
        kms[EAST].replicate_key(KeyId=key_id, ReplicaRegion=WEST)
        assert kms[WEST].describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Creating"
        time.sleep(0.4)
        assert kms[WEST].describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Enabled"


def test_adversarial_shows_no_primary_during_updating():
    """What a naive failover script meets: both keys REPLICA while the update is in flight."""
    with serving(transients="adversarial", delay=0.5) as (url, _):
        kms = clients(url)
        key_id = kms[EAST].create_key(MultiRegion=True)["KeyMetadata"]["KeyId"]
        kms[EAST].replicate_key(KeyId=key_id, ReplicaRegion=WEST)
        time.sleep(0.6)
        kms[EAST].update_primary_region(KeyId=key_id, PrimaryRegion=WEST)
        types = {
            r: kms[r].describe_key(KeyId=key_id)["KeyMetadata"]["MultiRegionConfiguration"][
                "MultiRegionKeyType"
            ]
            for r in (EAST, WEST)
        }
        assert types == {EAST: "REPLICA", WEST: "REPLICA"}
        time.sleep(0.6)
        conf = kms[WEST].describe_key(KeyId=key_id)["KeyMetadata"]["MultiRegionConfiguration"]
        assert conf["MultiRegionKeyType"] == "PRIMARY"


def test_manual_steps_one_at_a_time():
    with serving(transients="manual") as (url, service):
        kms = clients(url)
        key_id = kms[EAST].create_key(MultiRegion=True)["KeyMetadata"]["KeyId"]
        kms[EAST].replicate_key(KeyId=key_id, ReplicaRegion=WEST)
        kms[EAST].replicate_key(KeyId=key_id, ReplicaRegion=SYDNEY)
        state = control(url, "state")
        assert state["keys"][0]["Regions"][WEST]["KeyState"] == "Creating"
        taken = control(url, f"step?action=CompleteCreate&key={key_id}")["taken"]
        assert len(taken) == 1 and "CompleteCreate" in taken[0]
        states = {
            control(url, "state")["keys"][0]["Regions"][r]["KeyState"] for r in (WEST, SYDNEY)
        }
        assert states == {"Creating", "Enabled"}


# --- bad input ------------------------------------------------------------------------------------

AUTH = (
    "AWS4-HMAC-SHA256 Credential=testing/20261206/us-east-1/kms/aws4_request, "
    "SignedHeaders=host, Signature=00"
)


def raw(url: str, body: bytes, headers: dict[str, str], method: str = "POST"):
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        conn.request(method, "/", body=body, headers=headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def kms_headers(target: str, auth: str | None = AUTH) -> dict[str, str]:
    headers = {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": target}
    if auth is not None:
        headers["Authorization"] = auth
    return headers


@pytest.mark.parametrize(
    "body, headers, status, error",
    [
        (b"{", kms_headers("TrentService.ListKeys"), 400, "SerializationException"),
        (b"[1]", kms_headers("TrentService.ListKeys"), 400, "SerializationException"),
        (b"{}", kms_headers("TrentService.NoSuchThing"), 400, "UnknownOperationException"),
        (b"{}", kms_headers("DynamoDB_20120810.ListTables"), 400, "UnknownOperationException"),
        (b"{}", kms_headers("TrentService.Sign"), 400, "UnsupportedOperationException"),
        (
            b"{}",
            kms_headers("TrentService.ListKeys", auth=None),
            400,
            "MissingAuthenticationTokenException",
        ),
        (b'{"KeyId": 5}', kms_headers("TrentService.DescribeKey"), 400, "SerializationException"),
        (b"{}", kms_headers("TrentService.DescribeKey"), 400, "ValidationException"),
        (
            b'{"KeyId": "arn:aws:kms:x"}',
            kms_headers("TrentService.DescribeKey"),
            400,
            "InvalidArnException",
        ),
        (
            b'{"MultiRegion": false}',
            kms_headers("TrentService.CreateKey"),
            400,
            "UnsupportedOperationException",
        ),
        (
            b'{"CiphertextBlob": "!!"}',
            kms_headers("TrentService.Decrypt"),
            400,
            "SerializationException",
        ),
        (
            b'{"CiphertextBlob": "AAAA"}',
            kms_headers("TrentService.Decrypt"),
            400,
            "InvalidCiphertextException",
        ),
        (
            b"{}",
            kms_headers("TrentService.ListKeys", AUTH.replace("us-east-1", "mars-1")),
            400,
            "ValidationException",
        ),
    ],
)
def test_bad_requests_get_kms_errors(body, headers, status, error):
    with serving() as (url, _):
        got, data = raw(url, body, headers)
    assert (got, json.loads(data)["__type"]) == (status, error)


def test_oversized_body_is_413_and_the_server_goes_on():
    with serving() as (url, _):
        host, port = url.removeprefix("http://").split(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=10)
        conn.putrequest("POST", "/")
        for k, v in kms_headers("TrentService.ListKeys").items():
            conn.putheader(k, v)
        conn.putheader("Content-Length", str(50 << 20))
        conn.endheaders()
        response = conn.getresponse()
        assert response.status == 413
        assert json.loads(response.read())["__type"] == "RequestEntityTooLargeException"
        conn.close()
        assert clients(url)[EAST].list_keys()["Keys"] == []


TARGETS = st.one_of(
    st.sampled_from([f"TrentService.{op}" for op in sorted(KMS_OPERATIONS)]),
    st.text(max_size=40),
)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=12), inner, max_size=3)
    ),
    max_leaves=8,
)
FIELDS = st.sampled_from(
    [
        "KeyId",
        "Plaintext",
        "CiphertextBlob",
        "ReplicaRegion",
        "PrimaryRegion",
        "MultiRegion",
        "PendingWindowInDays",
        "Limit",
        "Marker",
        "EncryptionContext",
        "Origin",
        "ImportToken",
    ]
)
BODIES = st.one_of(
    st.binary(max_size=200),
    st.dictionaries(FIELDS, JSON_VALUES, max_size=4).map(lambda d: json.dumps(d).encode()),
    JSON_VALUES.map(lambda v: json.dumps(v).encode()),
)
AUTHS = st.one_of(st.none(), st.just(AUTH), st.text(max_size=60).filter(lambda t: "\n" not in t))


def test_fuzzed_requests_get_4xx_kms_errors_and_the_server_still_works():
    """A few hundred malformed requests: never a 5xx, every refusal a KMS-shaped error."""
    with serving() as (url, _):
        statuses: list[int] = []

        @settings(
            max_examples=300,
            deadline=None,
            derandomize=True,  # the same few hundred requests on every run
            suppress_health_check=list(HealthCheck),
        )
        @given(body=BODIES, target=TARGETS, auth=AUTHS)
        def one(body: bytes, target: str, auth: str | None) -> None:
            target = "".join(ch for ch in target if 32 < ord(ch) < 127)
            auth = None if auth is None else "".join(ch for ch in auth if 31 < ord(ch) < 127)
            status, data = raw(url, body, kms_headers(target, auth))
            statuses.append(status)
            assert status == 200 or 400 <= status < 500, (status, data)
            if status != 200:
                error = json.loads(data)
                assert set(error) == {"__type", "message"} and error["__type"]

        one()
        assert sum(400 <= s < 500 for s in statuses) >= 250
        kms = clients(url)
        key_id = kms[EAST].create_key(MultiRegion=True)["KeyMetadata"]["KeyId"]
        blob = kms[EAST].encrypt(KeyId=key_id, Plaintext=b"still fine")["CiphertextBlob"]
        assert kms[EAST].decrypt(CiphertextBlob=blob)["Plaintext"] == b"still fine"


# --- load ----------------------------------------------------------------------------------------


def mixed_load(url: str, clients_n: int, per_client: int) -> list[int]:
    """``clients_n`` threads, each with its own clients, making mixed calls on three shared
    keys; the HTTP status of every call."""
    kms = clients(url)
    key_ids = [kms[EAST].create_key(MultiRegion=True)["KeyMetadata"]["KeyId"] for _ in range(3)]
    for key_id in key_ids:
        kms[EAST].replicate_key(KeyId=key_id, ReplicaRegion=WEST)
    statuses: list[int] = []
    lock = threading.Lock()

    def worker(n: int) -> None:
        own = clients(url)
        blob = None
        for i in range(per_client):
            region = REGIONS[(n + i // 8) % 2]  # each operation in both Regions
            key_id = key_ids[(n + i) % 3]
            op = (n * 7 + i) % 8
            try:
                if op in (0, 1):
                    own[region].describe_key(KeyId=key_id)
                elif op == 2:
                    blob = own[region].encrypt(KeyId=key_id, Plaintext=b"load")["CiphertextBlob"]
                elif op == 3 and blob is not None:  # else ListKeys below
                    own[region].decrypt(CiphertextBlob=blob)
                elif op == 4:
                    own[region].disable_key(KeyId=key_id)
                elif op == 5:
                    own[region].enable_key(KeyId=key_id)
                elif op == 6:
                    own[EAST if region == WEST else WEST].update_primary_region(
                        KeyId=key_id, PrimaryRegion=region
                    )
                else:
                    own[region].list_keys()
                status = 200
            except ClientError as exc:
                status = exc.response["ResponseMetadata"]["HTTPStatusCode"]
            with lock:
                statuses.append(status)

    with ThreadPoolExecutor(clients_n) as pool:
        list(pool.map(worker, range(clients_n)))
    return statuses


def test_concurrent_clients_lose_no_update():
    with serving() as (url, _):
        statuses = mixed_load(url, clients_n=16, per_client=25)
        assert len(statuses) == 400 and max(statuses) < 500
        assert statuses.count(200) > 100
        doc = control(url, "trace")
    assert replays(doc).startswith("the trace is a run of the model")
    requests = doc["#meta"]["requests"]
    assert len(requests) >= 400 + 6  # and the set-up's six
    # No lost update: every call answered with success is one step of the run, and no other.
    acknowledged = Counter(r["operation"] for r in requests if r["result"] == "ok")
    steps = Counter(s["#meta"]["action"] for s in doc["states"][1:])
    for operation in ("CreateKey", "ReplicateKey", "DisableKey", "EnableKey", "Encrypt"):
        assert acknowledged[operation] == steps[operation], operation
    assert acknowledged["UpdatePrimaryRegion"] == steps["UpdatePrimaryRegion"] > 0


# --- the command: restart, shutdown, bad options -------------------------------------------------


def test_restart_with_state_keeps_keys_states_and_ciphertexts(tmp_path):
    state, trace = tmp_path / "kms.json", tmp_path / "run.itf.json"
    with serve_process("--state", str(state), "--transients", "manual") as (url, process):
        kms = clients(url)
        key_id = kms[EAST].create_key(MultiRegion=True)["KeyMetadata"]["KeyId"]
        kms[EAST].replicate_key(KeyId=key_id, ReplicaRegion=WEST)
        control(url, "settle")
        kms[WEST].disable_key(KeyId=key_id)
        blob = kms[EAST].encrypt(KeyId=key_id, Plaintext=b"kept")["CiphertextBlob"]
        status, _, err = stop(process)
    assert status == 130 and "Traceback" not in err
    with serve_process("--state", str(state), "--trace", str(trace), "--transients", "manual") as (
        url,
        process,
    ):
        kms = clients(url)
        assert kms[WEST].describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Disabled"
        assert kms[EAST].decrypt(CiphertextBlob=blob)["Plaintext"] == b"kept"
        assert [k["KeyId"] for k in kms[EAST].list_keys()["Keys"]] == [key_id]
        status, out, err = stop(process, signal.SIGINT)  # Ctrl-C this time
    assert status == 130 and f"wrote {trace}" in out, err
    assert main(["trace", "check", str(trace)]) == 0


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--host", "0.0.0.0"], "--allow-remote"),
        (["--mutant", "replicate_overwrite"], "did you mean"),
        (["-D", "regions=2"], "--regions"),
        (["--key-sets", "4"], "--key-sets"),
        (["--regions", "9"], "regions must be between"),
        (["--state", "/proc/version/kms.json"], "cannot write"),
    ],
)
def test_bad_options_are_one_line_and_150(argv, message, capsys):
    assert main(["serve", "--port", "0", *argv]) == 150
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_a_state_file_of_another_instance_is_refused(tmp_path, capsys):
    with serving() as (url, service):
        clients(url)[EAST].create_key(MultiRegion=True)
        service.world.save(tmp_path / "kms.json")
    argv = ["serve", "--port", "0", "--regions", "2", "--state", str(tmp_path / "kms.json")]
    assert main(argv) == 150
    assert "same --regions" in capsys.readouterr().err


def test_the_trace_of_a_session_is_a_run_of_the_model_that_scenario_agrees_with():
    """The served trace's steps are the calls made and the steps KMS took, in order."""
    with serving() as (url, _):
        kms = clients(url)
        key_id = kms[EAST].create_key(MultiRegion=True)["KeyMetadata"]["KeyId"]
        kms[EAST].replicate_key(KeyId=key_id, ReplicaRegion=WEST)
        with pytest.raises(ClientError):
            kms[WEST].replicate_key(KeyId=key_id, ReplicaRegion=SYDNEY)  # from a replica
        doc = control(url, "trace")
    labels = [s["#meta"]["action"] for s in doc["states"][1:]]
    assert labels[:3] == ["CreateKey", "ReplicateKey", "CompleteCreate"]
    model = load_factory("kms")(**doc["#meta"]["options"])
    scenario = Scenario(model)
    for s in doc["states"][1:]:
        scenario.do(s["#meta"]["action"], **s["#meta"]["params"])
    assert [r["result"] for r in doc["#meta"]["requests"]][-1] == "UnsupportedOperationException"


def test_the_failover_example_of_docs_serve_md(monkeypatch, capsys):
    """docs/serve.md's boto3 script against adversarial transients prints what the doc says."""
    doc = (Path(__file__).resolve().parent.parent / "docs" / "serve.md").read_text()
    script = doc.split("```python\n", 1)[1].split("```", 1)[0]
    adversarial = doc.split("It prints:\n\n```\n", 1)[1].split("```", 1)[0]
    fast = doc.split("passes; it\nprints:\n\n```\n", 1)[1].split("```", 1)[0]
    for mode, delay, printed in (("adversarial", 1.0, adversarial), ("fast", None, fast)):
        with serving(transients=mode, delay=delay) as (url, _):
            monkeypatch.setenv("KMS_URL", url)
            exec(compile(script, "docs/serve.md", "exec"), {"__name__": "failover"})
        assert capsys.readouterr().out == printed, mode


def test_imported_material_is_unwrapped_and_used():
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding

    with serving() as (url, _):
        kms = clients(url)[EAST]
        key_id = kms.create_key(MultiRegion=True, Origin="EXTERNAL")["KeyMetadata"]["KeyId"]
        assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "PendingImport"
        params = kms.get_parameters_for_import(
            KeyId=key_id, WrappingAlgorithm="RSAES_OAEP_SHA_256", WrappingKeySpec="RSA_2048"
        )
        public = serialization.load_der_public_key(params["PublicKey"])
        oaep = padding.OAEP(
            mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None
        )
        wrapped = public.encrypt(b"m" * 32, oaep)  # type: ignore[union-attr]
        with pytest.raises(ClientError) as bad_token:
            kms.import_key_material(
                KeyId=key_id,
                ImportToken=b"x" * 32,
                EncryptedKeyMaterial=wrapped,
                ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE",
            )
        assert code(bad_token.value) == "InvalidImportTokenException"
        kms.import_key_material(
            KeyId=key_id,
            ImportToken=params["ImportToken"],
            EncryptedKeyMaterial=wrapped,
            ExpirationModel="KEY_MATERIAL_DOES_NOT_EXPIRE",
        )
        assert kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] == "Enabled"
        blob = kms.encrypt(KeyId=key_id, Plaintext=b"imported")["CiphertextBlob"]
        assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"imported"
        with pytest.raises(ClientError) as no_rotation:
            kms.rotate_key_on_demand(KeyId=key_id)
        assert code(no_rotation.value) == "UnsupportedOperationException"


def test_a_replica_sees_the_rotation_flag_only_after_a_sync():
    with serving(transients="manual") as (url, _):
        kms = clients(url)
        key_id = kms[EAST].create_key(MultiRegion=True)["KeyMetadata"]["KeyId"]
        kms[EAST].replicate_key(KeyId=key_id, ReplicaRegion=WEST)
        control(url, "settle")
        kms[EAST].enable_key_rotation(KeyId=key_id)
        assert kms[EAST].get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"] is True
        assert kms[WEST].get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"] is False
        assert any("Sync" in t for t in control(url, "settle")["taken"])
        assert kms[WEST].get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"] is True


def test_header_names_are_case_insensitive():
    headers = {k.lower(): v for k, v in kms_headers("TrentService.ListKeys").items()}
    with serving() as (url, _):
        status, data = raw(url, b"{}", headers)
    assert (status, json.loads(data)) == (200, {"Keys": [], "Truncated": False})


def test_what_http_server_refuses_itself_is_a_json_4xx():
    with serving() as (url, _):
        assert raw(url, b"{}", kms_headers("TrentService.ListKeys"), method="PUT")[0] == 405
        host, port = url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=10) as sock:
            sock.sendall(b"NOT A REQUEST LINE\r\n\r\n")
            answer = b"".join(iter(lambda: sock.recv(4096), b"")).decode()  # until it closes
        status_line, _, rest = answer.partition("\r\n")
        assert status_line.split()[1] == "400"
        assert json.loads(rest.split("\r\n\r\n", 1)[1])["__type"] == "SerializationException"
        assert raw(url, b"", {}, method="GET")[0] == 400  # GET / is no JSON call
        status, data = raw_path(url, "/_mrkcheck/advance?days=soon")
        assert (status, json.loads(data)["__type"]) == (400, "ValidationException")
        status, data = raw_path(url, "/_mrkcheck/stat")
        assert status == 404 and "did you mean" in json.loads(data)["message"]


def raw_path(url: str, path: str) -> tuple[int, bytes]:
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        conn.request("POST", path, body=b"")
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def test_keys_beyond_an_instance_are_traced_in_a_second_file(tmp_path):
    """With one key set per instance (three by default: the same, sooner), key 2 is instance 2's."""
    from mrkcheck.cli.serve import write_traces

    with serving(key_sets=1) as (url, service):
        east = clients(url)[EAST]
        for _ in range(2):
            east.create_key(MultiRegion=True)
        written = write_traces(service, str(tmp_path / "s.itf.json"))
    assert [Path(p).name for p in written] == ["s.itf.json", "s-2.itf.json"]
    for path in written:
        assert main(["trace", "check", path]) == 0


def shape_errors(shape, value, where: str = "") -> list[str]:
    """Where ``value`` (parsed JSON) is not of botocore's ``shape`` (the wire form of JSON 1.1:
    blobs base64 text, timestamps epoch numbers)."""
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, dict):
            return [f"{where}: not an object"]
        errors = [f"{where}.{k}: not in {shape.name}" for k in value if k not in shape.members]
        for k, v in value.items():
            if k in shape.members:
                errors += shape_errors(shape.members[k], v, f"{where}.{k}")
        return errors
    if kind == "list":
        if not isinstance(value, list):
            return [f"{where}: not a list"]
        return [
            e for i, v in enumerate(value) for e in shape_errors(shape.member, v, f"{where}[{i}]")
        ]
    wanted = {
        "string": str,
        "blob": str,
        "boolean": bool,
        "integer": int,
        "long": int,
        "timestamp": (int, float),
    }[kind]
    if not isinstance(value, wanted) or (kind in ("integer", "long") and isinstance(value, bool)):
        return [f"{where}: {type(value).__name__} where botocore has {kind}"]
    if kind == "string" and shape.enum and value not in shape.enum:
        return [f"{where}: {value!r} not in {shape.name}"]
    return []


def test_responses_have_botocore_s_output_shapes():
    import botocore.session

    service = botocore.session.get_session().get_service_model("kms")
    with serving(transients="manual") as (url, _):

        def call(op: str, region: str = EAST, **body) -> dict:
            headers = kms_headers(f"TrentService.{op}", AUTH.replace("us-east-1", region))
            status, data = raw(url, json.dumps(body).encode(), headers)
            assert status == 200, data
            answer = json.loads(data)
            output = service.operation_model(op).output_shape
            if output is None:
                assert answer == {}, f"{op}: botocore has no output shape"
            else:
                assert shape_errors(output, answer, op) == []
            return answer

        describe = service.operation_model("DescribeKey").output_shape
        assert shape_errors(describe, {"KeyMetadata": {"KeyState": "Happy", "Colour": 1}}) == [
            ".KeyMetadata.Colour: not in KeyMetadata",
            ".KeyMetadata.KeyState: 'Happy' not in KeyState",
        ]

        key = call("CreateKey", MultiRegion=True, Description="shapes")["KeyMetadata"]["KeyId"]
        call("ReplicateKey", KeyId=key, ReplicaRegion=WEST)
        control(url, "settle")
        call("DescribeKey", WEST, KeyId=key)
        call("EnableKeyRotation", KeyId=key)
        call("GetKeyRotationStatus", KeyId=key)
        call("RotateKeyOnDemand", KeyId=key)
        blob = call("Encrypt", KeyId=key, Plaintext="aGk=")["CiphertextBlob"]
        call("Decrypt", WEST, CiphertextBlob=blob)
        call("GenerateDataKey", KeyId=key, KeySpec="AES_256")
        call("ListKeys", Limit=1)
        call("DisableKey", KeyId=key)
        call("EnableKey", KeyId=key)
        call("UpdatePrimaryRegion", KeyId=key, PrimaryRegion=WEST)
        call("DescribeKey", EAST, KeyId=key)
        control(url, "settle")
        call("ScheduleKeyDeletion", WEST, KeyId=key, PendingWindowInDays=7)
        call("DescribeKey", WEST, KeyId=key)
        call("CancelKeyDeletion", WEST, KeyId=key)
        external = call("CreateKey", MultiRegion=True, Origin="EXTERNAL")["KeyMetadata"]["KeyId"]
        call(
            "GetParametersForImport",
            KeyId=external,
            WrappingAlgorithm="RSAES_OAEP_SHA_1",
            WrappingKeySpec="RSA_2048",
        )


def test_a_served_mutant_s_trace_is_a_run_of_the_mutant_not_of_the_model(tmp_path, capsys):
    with serving(mutant="replicate_overwrites", transients="manual", key_sets=1) as (url, _):
        east = clients(url)[EAST]
        key_id = east.create_key(MultiRegion=True)["KeyMetadata"]["KeyId"]
        east.replicate_key(KeyId=key_id, ReplicaRegion=WEST)
        east.replicate_key(KeyId=key_id, ReplicaRegion=WEST)  # the seeded bug: accepted again
        doc = control(url, "trace")
    path = tmp_path / "mutant.itf.json"
    path.write_text(json.dumps(doc))
    assert main(["trace", "check", str(path)]) == 0
    assert main(["trace", "check", str(path), "--mutant", "none"]) == 12
    assert "step 3: ReplicateKey" in capsys.readouterr().out


def test_refusals_name_the_key_and_the_rule_as_kms_words_them():
    with serving(transients="manual") as (url, _):
        kms = clients(url)
        key_id = kms[EAST].create_key(MultiRegion=True)["KeyMetadata"]["KeyId"]
        kms[EAST].replicate_key(KeyId=key_id, ReplicaRegion=WEST)
        with pytest.raises(ClientError) as creating:
            kms[EAST].update_primary_region(KeyId=key_id, PrimaryRegion=WEST)
        error = creating.value.response["Error"]
        west_arn = f"arn:aws:kms:{WEST}:111122223333:key/{key_id}"
        assert (error["Code"], error["Message"]) == (
            "KMSInvalidStateException",
            f"{west_arn} is creating. [§4 Creating fn14]",
        )
        with pytest.raises(ClientError) as not_pending:
            kms[EAST].cancel_key_deletion(KeyId=key_id)
        assert not_pending.value.response["Error"]["Message"].endswith(
            "is not pending deletion. [§4 Enabled fn4]"
        )


def test_automatic_rotation_runs_on_the_simulated_clock():
    with serving(transients="manual") as (url, _):
        east = clients(url)[EAST]
        key_id = east.create_key(MultiRegion=True)["KeyMetadata"]["KeyId"]
        east.enable_key_rotation(KeyId=key_id, RotationPeriodInDays=90)
        status = east.get_key_rotation_status(KeyId=key_id)
        assert status["RotationPeriodInDays"] == 90 and "NextRotationDate" in status

        def versions() -> int:
            return control(url, "state")["keys"][0]["Regions"][EAST]["MaterialVersions"]

        control(url, "advance?days=89")
        assert versions() == 1
        control(url, "advance?days=2")
        assert versions() == 2
        control(url, "advance?days=180")  # two more periods
        assert versions() == 4
        east.disable_key_rotation(KeyId=key_id)
        control(url, "advance?days=365")
        assert versions() == 4


def test_step_names_an_environment_step_or_says_which():
    with serving(transients="manual") as (url, _):
        status, data = raw_path(url, "/_mrkcheck/step?action=CompleteCreat")
    assert status == 400 and "did you mean 'CompleteCreate'" in json.loads(data)["message"]


def test_a_client_that_hangs_up_mid_request_leaves_no_traceback(capfd):
    with serving() as (url, _):
        host, port = url.removeprefix("http://").split(":")
        for linger in (b"", struct.pack("ii", 1, 0)):  # a close, then a reset (RST)
            with socket.create_connection((host, int(port)), timeout=10) as sock:
                if linger:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
                sock.sendall(b"POST / HTTP/1.1\r\nContent-Length: 100\r\n\r\n{")
                time.sleep(0.3)  # the server now waits for the other 99 bytes of the body
            time.sleep(0.1)
        assert clients(url)[EAST].list_keys()["Keys"] == []
    assert "Traceback" not in capfd.readouterr().err


def test_arns_carry_the_partition_and_replication_stays_inside_it():
    options = (("partitions", "aws,aws-cn"),)
    with serving(regions="us-east-1,cn-north-1", options=options) as (url, _):
        kms = clients(url, ("us-east-1", "cn-north-1"))
        arn = kms["cn-north-1"].create_key(MultiRegion=True)["KeyMetadata"]["Arn"]
        assert arn.startswith("arn:aws-cn:kms:cn-north-1:")
        with pytest.raises(ClientError) as across:
            kms["cn-north-1"].replicate_key(KeyId=arn, ReplicaRegion="us-east-1")
        assert code(across.value) == "UnsupportedOperationException"


def test_on_demand_rotation_past_the_model_s_bound_is_the_quota_error():
    with serving() as (url, _):
        east = clients(url)[EAST]
        key_id = east.create_key(MultiRegion=True)["KeyMetadata"]["KeyId"]
        for _ in range(4):  # versions 2..5
            east.rotate_key_on_demand(KeyId=key_id)
        with pytest.raises(ClientError) as quota:
            east.rotate_key_on_demand(KeyId=key_id)
        assert code(quota.value) == "LimitExceededException"


def test_a_port_in_use_is_one_line_and_150(capsys):
    with serving() as (url, _):
        port = url.rsplit(":", 1)[1]
        assert main(["serve", "--port", port]) == 150
    err = capsys.readouterr().err
    assert f"cannot listen on 127.0.0.1:{port}" in err and err.count("\n") == 1

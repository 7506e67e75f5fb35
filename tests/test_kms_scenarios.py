"""The seeds' worked examples, replayed on the model, with DescribeKey's documented output."""

from mrkcheck.lang.scenario import Scenario
from mrkcheck.model.kms import build
from mrkcheck.model.observe import describe_key


def types_shown(model, state, key_set, region):
    return {
        v["MultiRegionConfiguration"]["MultiRegionKeyType"]
        for v in describe_key(model, state, key_set, region)
    }


def test_seed_000_swap_us_east_1_and_eu_west_1():
    """Seed 000 "How it works": primary in us-east-1, replica in eu-west-1; UpdatePrimaryRegion
    makes eu-west-1 the primary and us-east-1 its replica."""
    model = build(regions="us-east-1,eu-west-1")
    sc = Scenario(model)
    sc.do("CreateKey", s="k1", r="us-east-1", origin="AWS_KMS")
    sc.do("ReplicateKey", s="k1", r="us-east-1", replica="eu-west-1")
    sc.do("CompleteCreate", s="k1", r="eu-west-1")
    sc.do("UpdatePrimaryRegion", s="k1", r="us-east-1", primary="eu-west-1")

    # "Operations such as DescribeKey might display both the old and new primary keys as replicas."
    assert types_shown(model, sc.state, "k1", "us-east-1") == {"PRIMARY", "REPLICA"}
    assert "REPLICA" in types_shown(model, sc.state, "k1", "eu-west-1")
    views = describe_key(model, sc.state, "k1", "eu-west-1")
    assert all(v["KeyState"] == "Updating" and v["Enabled"] is False for v in views)
    assert sc.call("Encrypt", s="k1", r="eu-west-1") is None  # crypto still works
    assert sc.call("ReplicateKey", s="k1", r="eu-west-1", replica="us-east-1") is not None

    sc.do("CompleteUpdate", s="k1")
    assert sc.value("role", "k1", "eu-west-1") == "PRIMARY"
    assert sc.value("role", "k1", "us-east-1") == "REPLICA"


def test_seed_000_describe_key_after_the_swap():
    """Seed 000's DescribeKey output (us-west-2 -> eu-west-1): Enabled, PRIMARY, PrimaryKey
    eu-west-1, ReplicaKeys [us-west-2]; a single view once the update is complete."""
    model = build(regions="us-west-2,eu-west-1")
    sc = Scenario(model)
    sc.do("CreateKey", s="k1", r="us-west-2", origin="AWS_KMS")
    sc.do("ReplicateKey", s="k1", r="us-west-2", replica="eu-west-1")
    sc.do("CompleteCreate", s="k1", r="eu-west-1")
    sc.do("UpdatePrimaryRegion", s="k1", r="us-west-2", primary="eu-west-1")
    sc.do("CompleteUpdate", s="k1")
    [view] = describe_key(model, sc.state, "k1", "eu-west-1")
    assert view["KeyState"] == "Enabled" and view["Enabled"] is True
    assert view["Origin"] == "AWS_KMS" and view["MultiRegion"] is True
    assert view["MultiRegionConfiguration"] == {
        "MultiRegionKeyType": "PRIMARY",
        "PrimaryKey": {"Region": "eu-west-1"},
        "ReplicaKeys": [{"Region": "us-west-2"}],
    }


def test_seed_003_replica_in_ap_southeast_2_while_one_exists_in_eu_west_1():
    """Seed 003: replicate the us-east-1 primary into ap-southeast-2 while a replica exists in
    eu-west-1; the response lists both replicas and the primary in us-east-1."""
    model = build(regions="us-east-1,eu-west-1,ap-southeast-2")
    sc = Scenario(model)
    sc.do("CreateKey", s="k1", r="us-east-1", origin="AWS_KMS")
    sc.do("ReplicateKey", s="k1", r="us-east-1", replica="eu-west-1")
    sc.do("CompleteCreate", s="k1", r="eu-west-1")
    assert sc.call("ReplicateKey", s="k1", r="us-east-1", replica="ap-southeast-2") is None
    # The text says Creating; the example shows Enabled: the model starts in Creating (§6).
    assert sc.value("key_state", "k1", "ap-southeast-2") == "Creating"
    [view] = describe_key(model, sc.state, "k1", "ap-southeast-2")
    assert view["MultiRegionConfiguration"] == {
        "MultiRegionKeyType": "REPLICA",
        "PrimaryKey": {"Region": "us-east-1"},
        "ReplicaKeys": [{"Region": "ap-southeast-2"}, {"Region": "eu-west-1"}],
    }
    # One related key per Region: replicating there again fails, in any state.
    assert (
        sc.call("ReplicateKey", s="k1", r="us-east-1", replica="ap-southeast-2")
        == "AlreadyExistsException"
    )


def test_describe_key_of_a_missing_key_is_empty():
    model = build()
    assert describe_key(model, model.initial[0], "k1", "us-east-1") == []

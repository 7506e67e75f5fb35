"""Every guard of every KMS action refuses its call with the documented exception.

For each guard that carries an exception we look, among the reachable states of small instances,
for a state where that guard is the *only* one failing, and assert that the model predicts exactly
that exception. Then a success case per action checks its documented effect.
"""

from collections import defaultdict

import pytest

from mrkcheck.check.explicit import reachable
from mrkcheck.lang.model import GuardId
from mrkcheck.lang.scenario import Scenario
from mrkcheck.model.kms import build
from mrkcheck.model.rules import (
    ALREADY_EXISTS,
    DISABLED,
    INVALID_STATE,
    LIMIT_EXCEEDED,
    NOT_FOUND,
    UNSUPPORTED,
)
from mrkcheck.properties.kms import errors_outside_api_lists

US, EU, AP = "us-east-1", "eu-west-1", "ap-southeast-2"


def _isolated_guards(states, model):
    """Guard identity -> errors seen when that guard alone fails in one of ``states``."""
    seen = defaultdict(set)
    for state in states:
        for inst in model.instances:
            failing = inst.failing_guards(state)
            if len(failing) == 1 and failing[0].error is not None:
                seen[failing[0].identity].add(failing[0].error)
    return seen


def _perturbed(model, states):
    """Every state one key_state or role slot away from ``states``: most are unreachable, which is
    what isolates guards shadowed by invariants (a primary in PendingDeletion with a replica)."""
    slots = [
        (slot, var.domain)
        for var, _, slot in model.schema.slots()
        if var.name in ("key_state", "role")
    ]
    for state in states:
        for slot, domain in slots:
            for value in range(domain.lo, domain.hi + 1):
                if value != state[slot]:
                    yield state[:slot] + (value,) + state[slot + 1 :]


@pytest.fixture(scope="module")
def isolated():
    """One state per orbit is enough (``symmetry=True``): a guard's identity names no Region, and
    the states one slot away from an orbit are the images of one representative's, so every
    member of an orbit isolates the same guards with the same errors as its representative (the
    full search gives the same table: 20,940 states against 3,748, in a fifth of the time)."""
    seen = defaultdict(set)
    for model in (build(), build(regions=2, partitions=2)):
        for key, errors in _isolated_guards(reachable(model, symmetry=True), model).items():
            seen[key] |= errors
    small = build(regions=2)
    representatives = list(reachable(small, symmetry=True))
    for key, errors in _isolated_guards(_perturbed(small, representatives), small).items():
        seen[key] |= errors
    return seen


def _all_guards(model):
    return {
        g.identity: g.error for inst in model.instances for g in inst.guards if g.error is not None
    }


def test_every_guard_alone_refuses_with_its_exception(isolated):
    guards = _all_guards(build(regions=2, partitions=2)) | _all_guards(build())
    assert len(guards) > 80
    missing = sorted(key for key in guards if key not in isolated)
    # The own-Region guards can never fail alone: that Region holds the primary, so "no key there"
    # (resp. "a replica there") fails too. Their order is asserted by the refusal tests below.
    assert missing == [
        GuardId("ReplicateKey", "§3.2.4", case="own Region"),
        GuardId("UpdatePrimaryRegion", "§3.3.3", case="own Region"),
    ]
    for key, error in guards.items():
        if key not in missing:
            assert isolated[key] == {error}, key


def test_every_guard_names_its_rule_once_per_call():
    """Mutants and conformance select guards by identity: every guard has one, naming its own
    action, and no two guards of one call share it."""
    for model in (build(), build(regions=2, partitions=2, sync_per_replica=False)):
        for inst in model.instances:
            ids = [g.identity for g in inst.guards]
            assert None not in ids, inst.label
            assert {i.operation for i in ids} == {inst.action}, inst.label
            assert len(set(ids)) == len(ids), inst.label


def test_every_predicted_error_is_in_the_botocore_list():
    """S17: the model predicts only errors the operation can return."""
    assert errors_outside_api_lists(build()) == []
    assert errors_outside_api_lists(build(regions=2, partitions=2)) == []


# --- guard order and specific documented refusals ---------------------------------------------


def kms(**options):
    return Scenario(build(**options))


def created(origin="AWS_KMS", **options):
    return kms(**options).do("CreateKey", s="k1", r=US, origin=origin)


def with_replica(**options):
    return (
        created(**options)
        .do("ReplicateKey", s="k1", r=US, replica=EU)
        .do("CompleteCreate", s="k1", r=EU)
    )


def test_replicate_refuses_a_region_holding_a_replica_pending_deletion():
    """§5 rule 9: a replica in PendingDeletion still occupies its Region."""
    sc = with_replica().do("ScheduleKeyDeletion", s="k1", r=EU)
    assert sc.call("ReplicateKey", s="k1", r=US, replica=EU) == ALREADY_EXISTS
    sc.do("DeletionDue", s="k1", r=EU)
    assert sc.call("ReplicateKey", s="k1", r=US, replica=EU) is None


def test_replicate_refusals_in_documented_order():
    sc = with_replica()
    assert sc.call("ReplicateKey", s="k1", r=AP, replica=EU) == NOT_FOUND
    assert sc.call("ReplicateKey", s="k1", r=EU, replica=AP) == UNSUPPORTED
    assert sc.call("ReplicateKey", s="k1", r=US, replica=US) == ALREADY_EXISTS  # Q4
    sc.do("DisableKey", s="k1", r=US)
    # Disabled primary and an occupied Region: the state guard comes first (§3.2 order).
    assert sc.call("ReplicateKey", s="k1", r=US, replica=EU) == DISABLED


def test_replicate_across_partitions_is_unsupported():
    sc = Scenario(build(regions=2, partitions=2)).do("CreateKey", s="k1", r=US, origin="AWS_KMS")
    assert sc.call("ReplicateKey", s="k1", r=US, replica="cn-north-1") == UNSUPPORTED


def test_update_primary_region_refusals():
    sc = with_replica()
    assert sc.call("UpdatePrimaryRegion", s="k1", r=EU, primary=US) == UNSUPPORTED  # a replica
    assert sc.call("UpdatePrimaryRegion", s="k1", r=US, primary=US) == UNSUPPORTED  # own Region
    assert sc.call("UpdatePrimaryRegion", s="k1", r=US, primary=AP) == NOT_FOUND  # Q3
    sc.do("DisableKey", s="k1", r=EU)
    assert sc.call("UpdatePrimaryRegion", s="k1", r=US, primary=EU) == DISABLED  # target
    sc.do("EnableKey", s="k1", r=EU).do("UpdatePrimaryRegion", s="k1", r=US, primary=EU)
    assert sc.call("UpdatePrimaryRegion", s="k1", r=EU, primary=US) == INVALID_STATE  # Q1, fn15


def test_update_allowed_while_updating_is_an_option():
    sc = with_replica(update_allowed_while_updating=True)
    sc.do("UpdatePrimaryRegion", s="k1", r=US, primary=EU)
    assert sc.call("UpdatePrimaryRegion", s="k1", r=EU, primary=US) is None


def test_management_refused_while_updating_but_crypto_allowed():
    sc = with_replica().do("UpdatePrimaryRegion", s="k1", r=US, primary=EU)
    for action in ("EnableKey", "DisableKey", "ScheduleKeyDeletion"):
        assert sc.call(action, s="k1", r=US) == INVALID_STATE
    assert sc.call("Encrypt", s="k1", r=US) is None
    assert sc.call("EnableKeyRotation", s="k1", r=EU) is None  # KS: Updating allowed


def test_crypto_refused_while_creating():
    sc = created().do("ReplicateKey", s="k1", r=US, replica=EU)
    assert sc.call("Encrypt", s="k1", r=EU) == INVALID_STATE  # fn14
    assert sc.call("DisableKey", s="k1", r=EU) == INVALID_STATE
    assert sc.call("ScheduleKeyDeletion", s="k1", r=EU) is None  # allowed while Creating (Q6)
    assert sc.value("key_state", "k1", EU) == "PendingDeletion"
    assert sc.call("CompleteCreate", s="k1", r=EU) == "refused"  # PendingDeletion wins


def test_rotation_refusals():
    sc = with_replica()
    assert sc.call("EnableKeyRotation", s="k1", r=EU) == UNSUPPORTED  # replica (Q2)
    assert sc.call("RotateKeyOnDemand", s="k1", r=US) is None
    assert sc.call("RotateKeyOnDemand", s="k1", r=US) == LIMIT_EXCEEDED  # max_versions=2
    sc.do("DisableKey", s="k1", r=US)
    assert sc.call("EnableKeyRotation", s="k1", r=US) == DISABLED
    ext = created(origin="EXTERNAL")
    assert ext.call("EnableKeyRotation", s="k1", r=US) == UNSUPPORTED
    assert ext.call("RotateKeyOnDemand", s="k1", r=US) == UNSUPPORTED  # Q9


def test_cancel_only_when_pending_deletion():
    sc = created()
    assert sc.call("CancelKeyDeletion", s="k1", r=US) == INVALID_STATE  # fn4
    sc.do("ScheduleKeyDeletion", s="k1", r=US)
    assert sc.call("ScheduleKeyDeletion", s="k1", r=US) == INVALID_STATE  # fn3


def test_import_refused_on_aws_kms_keys():
    assert created().call("ImportKeyMaterial", s="k1", r=US) == UNSUPPORTED
    assert created().call("DeleteImportedKeyMaterial", s="k1", r=US) == UNSUPPORTED


# --- success cases and their documented effects ---------------------------------------------------


def test_create_key_effects():
    sc = created()
    assert (sc.value("role", "k1", US), sc.value("key_state", "k1", US)) == ("PRIMARY", "Enabled")
    assert sc.value("versions", "k1", US) == "1"
    assert sc.value("rotation", "k1", US) == "false"
    ext = created(origin="EXTERNAL")
    assert ext.value("key_state", "k1", US) == "PendingImport"
    assert ext.value("versions", "k1", US) == "0"
    assert ext.call("CreateKey", s="k1", r=EU, origin="AWS_KMS") == "refused"  # IDs not reused


def test_replicate_key_effects():
    sc = created().do("EnableKeyRotation", s="k1", r=US).do("RotateKeyOnDemand", s="k1", r=US)
    sc.do("ReplicateKey", s="k1", r=US, replica=EU)
    assert sc.value("role", "k1", EU) == "REPLICA"
    assert sc.value("key_state", "k1", EU) == "Creating"
    assert sc.value("versions", "k1", EU) == "2"  # all material versions
    assert sc.value("rotation", "k1", EU) == "true"
    assert sc.value("key_state", "k1", US) == "Enabled"  # primary unchanged
    sc.do("CompleteCreate", s="k1", r=EU)
    assert sc.value("key_state", "k1", EU) == "Enabled"


def test_external_replica_gets_no_material():
    sc = created(origin="EXTERNAL").do("ImportKeyMaterial", s="k1", r=US)
    assert sc.value("key_state", "k1", US) == "Enabled"
    sc.do("ReplicateKey", s="k1", r=US, replica=EU).do("CompleteCreate", s="k1", r=EU)
    assert sc.value("key_state", "k1", EU) == "PendingImport"
    sc.do("ImportKeyMaterial", s="k1", r=EU)
    assert sc.value("key_state", "k1", EU) == "Enabled"
    sc.do("MaterialExpires", s="k1", r=US)
    assert sc.value("key_state", "k1", US) == "PendingImport"
    assert sc.value("key_state", "k1", EU) == "Enabled"  # replicas are left alone


def test_delete_imported_material_keeps_pending_deletion():
    sc = created(origin="EXTERNAL").do("ImportKeyMaterial", s="k1", r=US)
    sc.do("DisableKey", s="k1", r=US).do("DeleteImportedKeyMaterial", s="k1", r=US)
    assert sc.value("key_state", "k1", US) == "PendingImport"  # Q7's surprising path
    sc.do("ImportKeyMaterial", s="k1", r=US)
    assert sc.value("key_state", "k1", US) == "Enabled"
    sc.do("ScheduleKeyDeletion", s="k1", r=US).do("DeleteImportedKeyMaterial", s="k1", r=US)
    assert sc.value("key_state", "k1", US) == "PendingDeletion"


def test_update_primary_region_effects():
    sc = with_replica().do("EnableKeyRotation", s="k1", r=US)
    sc.do("UpdatePrimaryRegion", s="k1", r=US, primary=EU)
    assert (sc.value("role", "k1", US), sc.value("role", "k1", EU)) == ("REPLICA", "PRIMARY")
    assert sc.value("key_state", "k1", US) == sc.value("key_state", "k1", EU) == "Updating"
    assert sc.value("rotation", "k1", EU) == "true"  # Q8: the new primary inherits
    sc.do("CompleteUpdate", s="k1")
    assert sc.value("key_state", "k1", US) == sc.value("key_state", "k1", EU) == "Enabled"


def test_swap_at_completion_is_an_option():
    sc = with_replica(swap_roles_at_call=False).do("UpdatePrimaryRegion", s="k1", r=US, primary=EU)
    assert sc.value("role", "k1", US) == "PRIMARY"
    sc.do("CompleteUpdate", s="k1")
    assert (sc.value("role", "k1", US), sc.value("role", "k1", EU)) == ("REPLICA", "PRIMARY")


def test_deletion_of_primary_with_replicas():
    """§5: PendingReplicaDeletion until the last replica is actually deleted, then PendingDeletion."""
    sc = with_replica().do("ScheduleKeyDeletion", s="k1", r=US)
    assert sc.value("key_state", "k1", US) == "PendingReplicaDeletion"
    assert sc.value("key_state", "k1", EU) == "Enabled"  # replicas stay usable (rule 6)
    sc.do("ScheduleKeyDeletion", s="k1", r=EU)
    assert sc.call("PrimaryDeletionStarts", s="k1", r=US) == "refused"  # scheduled is not deleted
    sc.do("DeletionDue", s="k1", r=EU).do("PrimaryDeletionStarts", s="k1", r=US)
    assert sc.value("key_state", "k1", US) == "PendingDeletion"
    sc.do("DeletionDue", s="k1", r=US)
    assert sc.value("role", "k1", US) == "NONE"


def test_cancel_leaves_disabled_for_both_roles():
    sc = (
        with_replica()
        .do("ScheduleKeyDeletion", s="k1", r=US)
        .do("ScheduleKeyDeletion", s="k1", r=EU)
    )
    sc.do("CancelKeyDeletion", s="k1", r=US).do("CancelKeyDeletion", s="k1", r=EU)
    assert sc.value("key_state", "k1", US) == sc.value("key_state", "k1", EU) == "Disabled"


def test_enable_disable_touch_one_key():
    sc = with_replica().do("DisableKey", s="k1", r=US)
    assert sc.value("key_state", "k1", EU) == "Enabled"
    assert sc.call("Encrypt", s="k1", r=EU) is None  # a replica stays usable
    sc.do("EnableKey", s="k1", r=US)
    assert sc.value("key_state", "k1", US) == "Enabled"


def test_sync_and_rotation_reach_replicas():
    sc = with_replica().do("EnableKeyRotation", s="k1", r=US).do("AutomaticRotation", s="k1", r=US)
    assert sc.value("versions", "k1", EU) == "1"
    sc.do("Encrypt", s="k1", r=US)
    assert sc.value("ciphertext", "k1") == "1"  # new material not used until everyone has it
    sc.do("Sync", s="k1", primary=US, r=EU)
    assert (sc.value("versions", "k1", EU), sc.value("rotation", "k1", EU)) == ("2", "true")
    sc.do("Encrypt", s="k1", r=EU).do("Decrypt", s="k1", r=US)
    assert sc.value("ciphertext", "k1") == "2"


def test_decrypt_works_in_any_region_for_older_ciphertext():
    sc = created().do("Encrypt", s="k1", r=US).do("ReplicateKey", s="k1", r=US, replica=EU)
    assert sc.call("Decrypt", s="k1", r=EU) == INVALID_STATE  # still Creating
    sc.do("CompleteCreate", s="k1", r=EU)
    assert sc.call("Decrypt", s="k1", r=EU) is None  # made before the replica existed


def test_drop_guard_selects_by_identity():
    """A mutant drops exactly the guards its GuardId selection names, and a selection that
    names no guard is refused rather than silently leaving the model unchanged."""
    from mrkcheck.lang.model import ModelError
    from mrkcheck.lang.mutation import drop_guard

    model = build(regions=2)
    mutated = drop_guard(model, "ReplicateKey", "§3.2.4", case="")
    for before, after in zip(model.instances, mutated.instances, strict=True):
        dropped = {g.identity for g in before.guards} - {g.identity for g in after.guards}
        expected = {GuardId("ReplicateKey", "§3.2.4")} if before.action == "ReplicateKey" else set()
        assert dropped == expected, before.label
    with pytest.raises(ModelError):
        drop_guard(model, "Encrypt", "§3.2.4")
    with pytest.raises(ModelError):
        drop_guard(model, "Encrypt", "§4", colour="red")

"""A platform team's own assumptions about its keys, as properties of the KMS model.

``mrkcheck check --workflow examples/workflows/delete_primary.py --properties-from
examples/properties/team.py`` checks them on every state the runbook can reach (exit 0);
a project file entry says ``properties_from = "examples/properties/team.py"``. Written against the
public model API: ``k`` has the model's universes and variables (``k.key_state[s, r]``,
``k.role[s, r]``...) and readable predicates (``k.exists``, ``k.in_state``, ``k.is_primary``).
"""

from mrkcheck import ActionProperty, Invariant, KeyState, LeadsTo, implies

KEEP = "eu-west-1"  # the Region whose key the team must never lose


def properties(k):
    kept = k.key_state["k1", KEEP]
    return [
        Invariant(
            "keeps_a_key_in_eu_west_1",
            k.exists("k1", KEEP),
            doc="every key set keeps its key in eu-west-1",
        ),
        Invariant(
            "eu_west_1_never_disabled",
            ~k.in_state("k1", KEEP, KeyState.Disabled),
            doc="a key we use for encryption is never left Disabled",
        ),
        ActionProperty(
            "eu_west_1_never_scheduled_for_deletion",
            lambda inst: implies(
                kept.ne(KeyState.PendingDeletion), kept.next.ne(KeyState.PendingDeletion)
            ),
            doc="no step puts the key in eu-west-1 in PendingDeletion",
        ),
        LeadsTo(
            "old_primary_deletion_completes",
            (
                (
                    k.in_state("k1", "us-east-1", KeyState.PendingDeletion),
                    ~k.exists("k1", "us-east-1"),
                ),
            ),
            doc="once the old primary is pending deletion, it is eventually deleted",
        ),
    ]

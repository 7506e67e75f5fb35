"""The properties added for issue 10: the §4 table they read is the document's, they judge every
step (environment steps included), and the bugs they were written for escaped everything else."""

import pytest

from mrkcheck.check.explicit import check
from mrkcheck.check.result import HOLDS
from mrkcheck.model.mutants import BY_NAME
from mrkcheck.model.rules import KEY_STATE_MATRIX, OK
from mrkcheck.properties.kms import SUCCEEDS_IN

ISSUE_10_PROPERTIES = {
    "sync_source_is_primary",
    "material_versions_never_decrease",
    "pending_deletion_left_only_by_cancel_or_deletion",
    "no_rotation_while_disabled_or_pending_deletion",
    "key_state_matrix_respected",
    "other_keys_unchanged",  # S13 narrowed to its documented exceptions
}

# The bugs of issue 10 that every earlier property let through.
ESCAPED = [
    "sync_from_demoted_primary",
    "enable_pending_replica_deletion",
    "rotate_disabled_primary",
    "encrypt_on_creating_replica",
    "complete_update_enables_third_key",
    "sync_copies_key_state",
]


def test_property_table_agrees_with_the_model_table():
    """Two transcriptions of §4, one for the guards and one for the property: a cell read
    differently in one of them is a finding, to be settled from the sources."""
    model_rows = {
        op: {state for state, cell in row.items() if cell == OK}
        for op, row in KEY_STATE_MATRIX.items()
    }
    assert {op: set(states) for op, states in SUCCEEDS_IN.items()} == model_rows


def test_property_table_covers_every_api_operation_on_an_existing_key(kms_default):
    """Every API call of the model except CreateKey (which makes a new key) has a §4 row, so
    the matrix property judges it."""
    calls = {i.action for i in kms_default.instances if not i.environment}
    assert calls - set(SUCCEEDS_IN) == {"CreateKey"}


def test_s13_judges_every_step_environment_steps_included(kms_default):
    prop = kms_default.get_property("other_keys_unchanged")
    assert all(prop.for_action(i) is not None for i in kms_default.instances)


@pytest.mark.parametrize("name", ESCAPED)
def test_escaped_mutant_is_caught_only_by_the_new_properties(name):
    """Every other safety property holds on the mutant: only the new ones (and S13, narrowed to
    its documented exceptions) catch it."""
    mutant = BY_NAME[name]
    assert mutant.breaks in ISSUE_10_PROPERTIES
    model = mutant.build()
    earlier = [
        p.name
        for p in model.properties
        if p.kind != "eventually" and p.expected == HOLDS and p.name not in ISSUE_10_PROPERTIES
    ]
    result = check(model.select(earlier))
    assert [p for p in earlier if result.result(p).status != HOLDS] == []

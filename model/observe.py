"""DescribeKey as an observation function: every view of a key that the documents allow (§3.11, §6).

One internal state can be observed several ways: during Updating, DescribeKey "might display both
the old and new primary keys as replicas" (seed 000), values are "in flux", and replicas outside the
pair may still name the old primary. So the observation of a key is a *set* of views, and a client
or an emulator is conformant when what it shows is one of them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from mrkcheck.lang.expr import Expr, and_, or_
from mrkcheck.lang.model import Model, State

from .rules import KeyState, Role

if TYPE_CHECKING:  # for annotations only: model/kms.py builds with properties that use this module
    from .kms import Kms


def may_show(k: Kms, s: str, r: str, role: Role) -> Expr:
    """The key of set ``s`` in Region ``r`` may be shown with MultiRegionKeyType ``role``.

    Outside Updating a key shows its role. A key in Updating may show REPLICA (both keys of the pair
    may appear as replicas) or its role from before the swap (a stale view), so either type."""
    updating = k.in_state(s, r, KeyState.Updating)
    return and_(k.exists(s, r), or_(k.role[s, r].eq(role), updating))


def describe_key(model: Model, state: State, key_set: str, region: str) -> list[dict[str, Any]]:
    """Every DescribeKey response the documents allow for that key, or [] if it does not exist
    (the call fails with NotFoundException)."""
    values = model.decode(state)
    key_state = values["key_state"][(key_set, region)]
    if key_state == KeyState.Absent.name:
        return []
    regions = list(model.universe("Region").elements)
    role = {r: values["role"][(key_set, r)] for r in regions}
    updating = [r for r in regions if values["key_state"][(key_set, r)] == KeyState.Updating.name]
    primary = next((r for r in regions if role[r] == Role.PRIMARY.name), None)
    old_primary = next((r for r in updating if r != primary), None)

    def view(key_type: str, primary_region: str | None) -> dict[str, Any]:
        listed = sorted(x for x in regions if role[x] != Role.NONE.name and x != primary_region)
        return {
            "KeyState": key_state,
            "Enabled": key_state == KeyState.Enabled.name,
            "Origin": values["origin"][(key_set,)] if isinstance(values["origin"], dict) else None,
            "MultiRegion": True,
            "MultiRegionConfiguration": {
                "MultiRegionKeyType": key_type,
                "PrimaryKey": {"Region": primary_region},
                "ReplicaKeys": [{"Region": x} for x in listed],
            },
        }

    views = [view(role[region], primary)]
    if updating:
        # Stale views (before the swap) and the documented both-replicas view.
        stale_role = {Role.PRIMARY.name: Role.REPLICA.name, Role.REPLICA.name: Role.PRIMARY.name}
        if region in updating:
            views.append(view(stale_role[role[region]], old_primary))
            views.append(view(Role.REPLICA.name, primary))
        else:
            views.append(view(role[region], old_primary))
    unique = []
    for v in views:
        if v not in unique:
            unique.append(v)
    return unique


def key_metadata(view: dict[str, Any], key_id: str, arn: Callable[[str], str]) -> dict[str, Any]:
    """A view as DescribeKey's ``KeyMetadata`` (botocore's shape), for the fields the model
    decides; ``arn(region)`` names the key set's key in a Region."""
    conf = view["MultiRegionConfiguration"]
    primary = conf["PrimaryKey"]["Region"]
    return {
        "KeyId": key_id,
        "KeyState": view["KeyState"],
        "Enabled": view["Enabled"],
        "Origin": view["Origin"],
        "MultiRegion": True,
        "MultiRegionConfiguration": {
            "MultiRegionKeyType": conf["MultiRegionKeyType"],
            "PrimaryKey": {"Arn": arn(primary), "Region": primary} if primary else {},
            "ReplicaKeys": [
                {"Arn": arn(x["Region"]), "Region": x["Region"]} for x in conf["ReplicaKeys"]
            ],
        },
    }

"""The AWS KMS multi-Region key model: every operation as a guarded transition.

Source of every rule: docs/semantics.md (section numbers below) and the AWS pages it cites.
State, per key set ``s`` and Region ``r`` (the related key of set ``s`` in Region ``r``):

- ``key_state[s, r]``: :class:`KeyState` (``Absent`` where no key exists);
- ``role[s, r]``: PRIMARY, REPLICA, or NONE where no key exists;
- ``rotation[s, r]``: this key's copy of the shared automatic-rotation flag;
- ``versions[s, r]``: how many key-material versions this key holds (AWS_KMS: 1 at creation, one
  more per rotation; EXTERNAL: 1 once material is imported, 0 without material).

and per key set: ``created[s]`` (key IDs are never reused), ``origin[s]`` (shared, immutable) and
``ciphertext[s]``, the newest material version used by any ciphertext of the set (0: none), so that
cross-Region decryption can be checked. Shared properties live per key, not per set, so that they
can drift until a Sync, as they do in KMS (§2), and every invariant of §7 can fail: a ReplicateKey
that ignores its guard overwrites the slot of an existing key; an UpdatePrimaryRegion that forgets
the demotion leaves two primaries.

What DescribeKey reports is a function of this state (:mod:`mrkcheck.model.observe`), not stored:
the documents allow several views of one state (§6), and the observation function returns them all.
"""

from __future__ import annotations

import inspect
import re
from dataclasses import Field, dataclass, field, fields
from typing import Any

from mrkcheck.errors import unknown_name
from mrkcheck.lang.expr import Enabled, Expr, and_, exists, forall, ite
from mrkcheck.lang.model import (
    Guard,
    GuardId,
    Model,
    ModelBuilder,
    ModelError,
    Universe,
    Variable,
    instance_label,
)
from mrkcheck.properties.kms import define_properties

from .actions import define_actions
from .rules import (
    ALREADY_EXISTS,
    API_ERRORS,
    FOOTNOTE,
    KEY_STATE_MATRIX,
    NOT_FOUND,
    OK,
    UNSUPPORTED,
    KeyState,
    Origin,
    Role,
)

DEFAULT_REGIONS = (
    "us-east-1",
    "eu-west-1",
    "ap-southeast-2",
    "us-west-2",
    "eu-central-1",
    "ap-northeast-1",
)
CHINA_REGIONS = ("cn-north-1", "cn-northwest-1", "cn-east-9", "cn-south-9", "cn-west-9", "cn-mid-9")
PARTITION_NAMES = ("aws", "aws-cn")
REGION_PATTERN = re.compile(r"^([a-z]+-){2,3}\d+$")  # API:ReplicateKey ReplicaRegion
MAX_REGIONS, MAX_PARTITIONS, MAX_KEY_SETS = 6, 2, 3


def _option(default: Any, doc: str) -> Any:
    return field(default=default, metadata={"doc": doc})


@dataclass(frozen=True)
class KmsOptions:
    """The options of the KMS model, declared once: :func:`build`'s keyword arguments, the lines
    of ``mrkcheck list options`` and the keys a project file may set all come from these fields.

    The first five shape the instance; the others are the open questions of §8, each defaulting
    to the documented reading (its doc opens with the question it decides). Values are checked
    when the options are made, in field order, so a bad one is reported as one clear line."""

    regions: int | str = _option(
        3, "number of Regions (1-6) or comma-separated Region names; default 3"
    )
    partitions: int | str = _option(
        1,
        "number of AWS partitions (1-2, such as aws and aws-cn; Regions split in order) or one "
        "partition name per Region; keys are never replicated across partitions",
    )
    key_sets: int = _option(1, "number of key sets (1-3); key sets are interchangeable")
    origins: str = _option(
        "AWS_KMS,EXTERNAL",
        "key material origins CreateKey may use: AWS_KMS, EXTERNAL or both (default both)",
    )
    max_versions: int = _option(
        2,
        "the most key-material versions a key can hold (its rotations plus one): a bound that "
        "keeps the number of states finite",
    )
    update_allowed_while_updating: bool = _option(
        False,
        "may UpdatePrimaryRegion be called while the key is still Updating from an earlier "
        "call? The key-state table says yes, the guides say both keys must be Enabled; default "
        "false: refused with KMSInvalidStateException (Q1)",
    )
    role_error: str = _option(
        UNSUPPORTED,
        "the exception for calls on a key of the wrong kind, which the pages do not name "
        "(replicating a replica, rotating a replica...) (Q2)",
    )
    update_without_replica_error: str = _option(
        NOT_FOUND,
        "the exception for UpdatePrimaryRegion to a Region that holds no replica of the key (Q3)",
    )
    replicate_to_own_region_error: str = _option(
        ALREADY_EXISTS, "the exception for ReplicateKey into the primary key's own Region (Q4)"
    )
    update_checks_both_keys: bool = _option(
        True,
        "UpdatePrimaryRegion checks the key state of both keys, the current primary first "
        "(default true) (Q5)",
    )
    schedule_deletion_while_creating: bool = _option(
        True,
        "a replica still being created may be scheduled for deletion, and the deletion wins "
        "when creation completes (default true) (Q6)",
    )
    import_enables_disabled_key: bool = _option(
        False,
        "importing key material into a Disabled key also enables it (default false: only a "
        "key waiting for its material becomes Enabled) (Q7)",
    )
    swap_roles_at_call: bool = _option(
        True,
        "UpdatePrimaryRegion swaps the primary and replica roles when called (default true); "
        "false swaps them when the update completes (Q8)",
    )
    external_on_demand_rotation: bool = _option(
        False,
        "allow on-demand rotation of keys whose material was imported (default false: "
        "refused with UnsupportedOperationException; true is not modelled) (Q9)",
    )
    rotate_on_demand_row: str = _option(
        "EnableKeyRotation",
        "which operation's row of the key-state table RotateKeyOnDemand follows, since the "
        "table has none of its own (Q10)",
    )
    delete_material_keeps_pending_deletion: bool = _option(
        True,
        "deleting imported material from a key pending deletion leaves it pending deletion "
        "(default true) (Q11)",
    )
    pending_window_days: str = _option(
        "7..30",
        "the waiting period ScheduleKeyDeletion accepts, in days; only the predicted error "
        "changes, waiting periods are not part of the state (Q12)",
    )
    manage_replicas_while_updating: bool = _option(
        True,
        "replicas other than the two keys being updated can still be managed during an "
        "update (default true; false is not modelled) (Q13)",
    )
    sync_per_replica: bool = _option(
        True,
        "KMS copies the shared properties to one replica at a time, in any order (default "
        "true); false copies to every replica in one step (Q14)",
    )
    transient_errors: bool = _option(
        False,
        "model permissions, quotas and transient errors (default false: out of scope; true is "
        "not modelled) (Q15)",
    )
    guard_order: str = _option(
        "documented",
        "when several checks of a call fail: 'documented' predicts the first one in the "
        "documented order, 'any' accepts the error of any failing check (Q16)",
    )
    # The instance the first five options describe, worked out when the options are made.
    region_names: tuple[str, ...] = field(init=False, repr=False, compare=False)
    partition_names: tuple[str, ...] = field(init=False, repr=False, compare=False)
    origin_list: tuple[Origin, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        names = parse_regions(self.regions)
        named = not _is_count(str(self.regions).strip())
        parts = parse_partitions(self.partitions, names, named)
        if not named:
            names = _default_region_names(names, parts)
        if not 1 <= int(self.key_sets) <= MAX_KEY_SETS:
            raise ModelError(f"key_sets must be between 1 and {MAX_KEY_SETS}, not {self.key_sets}")
        origins = parse_origins(self.origins)
        if not 1 <= int(self.max_versions) <= 5:
            raise ModelError(f"max_versions must be between 1 and 5, not {self.max_versions}")
        for name, value in (
            ("region_names", names),
            ("partition_names", parts),
            ("origin_list", origins),
            ("key_sets", int(self.key_sets)),
            ("max_versions", int(self.max_versions)),
        ):
            object.__setattr__(self, name, value)  # frozen: set once, while being made
        _check_choices(self)

    def partition_of(self, region: str) -> str:
        return self.partition_names[self.region_names.index(region)]


def option_fields() -> list[Field]:
    """The fields of :class:`KmsOptions` a caller sets, in declaration order."""
    return [f for f in fields(KmsOptions) if f.init]


UNIVERSE_OPTIONS = ("regions", "partitions", "key_sets", "origins", "max_versions")
OPTION_DOCS = {f.name: f.metadata["doc"] for f in option_fields()}  # read by `list options`
RULES_DOCUMENT = "docs/semantics.md"  # where the rule ids of OPTION_DOCS are explained


def _is_count(text: str) -> bool:
    """ASCII digits only: ``"²".isdigit()`` is true, but ``int("²")`` fails."""
    return text.isascii() and text.isdigit()


def parse_regions(regions: int | str) -> tuple[str, ...]:
    """A Region count or a list of names; names must look like Regions (``us-east-1``)."""
    text = str(regions).strip()
    if _is_count(text):
        n = int(text)
        if not 1 <= n <= MAX_REGIONS:
            raise ModelError(f"regions must be between 1 and {MAX_REGIONS}, not {n}")
        return DEFAULT_REGIONS[:n]
    names = tuple(part.strip() for part in text.split(",") if part.strip())
    for name in names:
        if not REGION_PATTERN.match(name):
            hint = "Region names look like us-east-1"
            raise ModelError(unknown_name("Region", name, DEFAULT_REGIONS, hint))
    if len(set(names)) != len(names):
        raise ModelError(f"a Region is listed twice: {text}")
    if not 1 <= len(names) <= MAX_REGIONS:
        raise ModelError(f"between 1 and {MAX_REGIONS} Regions, not {len(names)}")
    return names


def parse_partitions(
    partitions: int | str, regions: tuple[str, ...], named: bool
) -> tuple[str, ...]:
    """One partition per Region: a count splits the Regions in order; or a name per Region."""
    text = str(partitions).strip()
    if _is_count(text):
        n = int(text)
        if not 1 <= n <= MAX_PARTITIONS:
            raise ModelError(f"partitions must be between 1 and {MAX_PARTITIONS}, not {n}")
        if n > len(regions):
            raise ModelError(f"{n} partitions need at least {n} Regions")
        size = -(-len(regions) // n)
        return tuple(PARTITION_NAMES[i // size] for i in range(len(regions)))
    names = tuple(p.strip() for p in text.split(","))
    if len(names) != len(regions):
        raise ModelError(f"{len(names)} partition names for {len(regions)} Regions")
    if len(set(names)) > MAX_PARTITIONS:
        raise ModelError(f"at most {MAX_PARTITIONS} partitions")
    return names


def _default_region_names(regions: tuple[str, ...], partitions: tuple[str, ...]) -> tuple[str, ...]:
    """Give Regions of the second partition China Region names, so the pictures read right."""
    out, aws, cn = [], iter(DEFAULT_REGIONS), iter(CHINA_REGIONS)
    for p in partitions:
        out.append(next(aws) if p == PARTITION_NAMES[0] else next(cn))
    return tuple(out)


def parse_origins(origins: str) -> tuple[Origin, ...]:
    """``AWS_KMS``, ``EXTERNAL`` or both, comma-separated."""
    try:
        origin_list = tuple(Origin[o.strip()] for o in str(origins).split(",") if o.strip())
    except KeyError as exc:
        hint = "use AWS_KMS and/or EXTERNAL"
        raise ModelError(unknown_name("origin", exc.args[0], Origin.__members__, hint)) from None
    if not origin_list:
        raise ModelError("origins must name at least one of AWS_KMS, EXTERNAL")
    return origin_list


def _check_choices(o: KmsOptions) -> None:
    if o.guard_order not in ("documented", "any"):
        raise ModelError(unknown_name("guard_order", o.guard_order, ("documented", "any")))
    if o.rotate_on_demand_row not in KEY_STATE_MATRIX:
        rows = KEY_STATE_MATRIX
        raise ModelError(
            "rotate_on_demand_row: " + unknown_name("operation row", o.rotate_on_demand_row, rows)
        )
    known = sorted(set().union(*API_ERRORS.values()))  # a typo must not become a new exception
    for name in ("role_error", "update_without_replica_error", "replicate_to_own_region_error"):
        value = getattr(o, name)
        if value not in known:
            hint = "an exception of KMS's API, such as UnsupportedOperationException"
            raise ModelError(f"{name}: " + unknown_name("exception", value, known, hint))
    if o.pending_window_days != "7..30" and not re.fullmatch(r"\d+\.\.\d+", o.pending_window_days):
        raise ModelError(f"pending_window_days must look like 7..30, not {o.pending_window_days!r}")
    if o.transient_errors:
        raise ModelError("transient_errors=true is not modelled (Q15: out of scope)")
    if o.external_on_demand_rotation:
        raise ModelError(
            "external_on_demand_rotation=true is not modelled yet (Q9: needs NEW/EXISTING imports "
            "into every related key); the default follows RotateKeyOnDemand's KeyId text"
        )
    if not o.manage_replicas_while_updating:
        raise ModelError("manage_replicas_while_updating=false is not modelled (Q13: docs say yes)")


@dataclass(frozen=True)
class Kms:
    """Handles on the model's universes and variables, for actions, properties and mutants."""

    options: KmsOptions
    KeySet: Universe
    Region: Universe
    key_state: Variable
    role: Variable
    rotation: Variable
    versions: Variable
    created: Variable
    origin: Variable
    ciphertext: Variable
    update_target: Variable | None  # only when roles swap at CompleteUpdate (Q8 = false)

    # --- readable predicates (all expressions) -----------------------------------------------

    def exists(self, s: str, r: str) -> Expr:
        return self.key_state[s, r].ne(KeyState.Absent)

    def in_state(self, s: str, r: str, *states: KeyState) -> Expr:
        return self.key_state[s, r].isin(*states)

    def is_primary(self, s: str, r: str) -> Expr:
        return self.role[s, r].eq(Role.PRIMARY)

    def is_replica(self, s: str, r: str) -> Expr:
        return self.role[s, r].eq(Role.REPLICA)

    def has_replicas(self, s: str) -> Expr:
        """Some replica of the set exists, in any state (§5 rule 3)."""
        return exists(self.Region, lambda r: self.is_replica(s, r))

    def is_external(self, s: str) -> Expr:
        return self.origin[s].eq(Origin.EXTERNAL)

    def any_updating(self, s: str) -> Expr:
        return exists(self.Region, lambda r: self.in_state(s, r, KeyState.Updating))

    def encryption_version(self, s: str) -> Expr:
        """The material version Encrypt uses: for AWS_KMS the newest one that every related key
        holds (§3.8: new material "is not used for encryption until the primary and every
        replica hold it"); imported material is one version, imported into each key separately."""
        held = [
            ite(self.exists(s, r), self.versions[s, r], self.options.max_versions)
            for r in self.Region
        ]
        smallest: Expr = held[0]
        for h in held[1:]:
            smallest = ite(h.lt(smallest), h, smallest)
        return ite(self.is_external(s), 1, smallest)

    def enabled(self, action: str, **params: str) -> Expr:
        """ "That action instance is enabled", resolved against the model's (possibly mutated)
        guards when the model is built."""
        return Enabled(instance_label(action, params.items()))

    def same_partition(self, r1: str, r2: str) -> bool:
        return self.options.partition_of(r1) == self.options.partition_of(r2)

    # --- guards from the documented tables -----------------------------------------------------

    def found(self, operation: str, s: str, r: str) -> Guard:
        """§3: the call names an existing key (the first guard of every call on a key)."""
        identity = GuardId(operation, "§3", case="key exists")
        return Guard(self.exists(s, r), NOT_FOUND, "the key exists (§3: NotFound)", identity)

    def state_allows(
        self, operation: str, s: str, r: str, who: str = "key", row: str | None = None
    ) -> list[Guard]:
        """One guard per key state the §4 matrix refuses for ``operation`` (or the matrix ``row``
        it borrows, Q10), with its exception; ``who`` names the key where a call checks two."""
        row = row or operation
        guards = []
        for state, footnote in KEY_STATE_MATRIX[row].items():
            if footnote == OK:
                continue
            if (
                row == "UpdatePrimaryRegion"
                and state == KeyState.Updating
                and self.options.update_allowed_while_updating
            ):
                continue  # Q1: the KS table's reading
            doc = f"§4 {row}: {who} {state.name} -> fn{footnote} {FOOTNOTE[footnote]}"
            identity = GuardId(
                operation,
                "§4",
                key_state=state.name,
                footnote=f"fn{footnote}",
                case="" if who == "key" else who,
            )
            guards.append(Guard(self.key_state[s, r].ne(state), FOOTNOTE[footnote], doc, identity))
        return guards


def build(*, with_properties: bool = True, **options: Any) -> Model:
    """The KMS multi-Region key model on one instance; ``options`` are the fields of
    :class:`KmsOptions` (the signature below lists them, for the command line and project
    files)."""
    unknown = sorted(set(options) - set(OPTION_DOCS))
    if unknown:
        raise ModelError(
            unknown_name("option", unknown[0], OPTION_DOCS, "see: mrkcheck list options kms")
        )
    builder, kms = declare(KmsOptions(**options))
    define_actions(builder, kms)
    if with_properties:
        define_properties(builder, kms)
    return builder.build()


build.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
    [
        inspect.Parameter(
            f.name, inspect.Parameter.KEYWORD_ONLY, default=f.default, annotation=f.type
        )
        for f in option_fields()
    ]
    + [inspect.Parameter("with_properties", inspect.Parameter.KEYWORD_ONLY, default=True)],
    return_annotation=Model,
)


def declare(options: KmsOptions) -> tuple[ModelBuilder, Kms]:
    """The universes and state variables of an instance."""
    recorded: dict[str, Any] = {
        "regions": ",".join(options.region_names),
        "partitions": ",".join(options.partition_names),
        "key_sets": options.key_sets,
        "origins": ",".join(o.name for o in options.origin_list),
        "max_versions": options.max_versions,
    }
    defaults = KmsOptions()
    for name in OPTION_DOCS:  # modelling choices are recorded only where they differ
        if name not in UNIVERSE_OPTIONS and getattr(options, name) != getattr(defaults, name):
            recorded[name] = getattr(options, name)
    m = ModelBuilder("kms", doc=__doc__ or "", options=recorded)
    KeySet = m.universe("KeySet", [f"k{i}" for i in range(1, options.key_sets + 1)], symmetric=True)
    Region = m.universe(
        "Region", options.region_names, symmetric=True, classes=options.partition_names
    )
    over = [KeySet, Region]
    v = options.max_versions
    kms = Kms(
        options=options,
        KeySet=KeySet,
        Region=Region,
        key_state=m.variable("key_state", KeyState, over, KeyState.Absent, "§1 key state"),
        role=m.variable("role", Role, over, Role.NONE, "§1 MultiRegionKeyType"),
        rotation=m.variable("rotation", bool, over, False, "§2 shared: automatic rotation flag"),
        versions=m.variable("versions", range(0, v + 1), over, 0, "§2 shared: material versions"),
        created=m.variable("created", bool, [KeySet], False, "§1 key IDs are never reused"),
        origin=m.variable("origin", Origin, [KeySet], Origin.AWS_KMS, "§2 shared, immutable"),
        ciphertext=m.variable(
            "ciphertext", range(0, v + 1), [KeySet], 0, "§3.10 newest version in a ciphertext"
        ),
        update_target=None
        if options.swap_roles_at_call
        else m.variable("update_target", bool, over, False, "Q8: the replica being promoted"),
    )
    m.terminal(
        forall(
            KeySet,
            lambda s: and_(kms.created[s], forall(Region, lambda r: ~kms.exists(s, r))),
        )
    )
    return m, kms


__all__ = ["Kms", "KmsOptions", "build", "declare", "OPTION_DOCS"]

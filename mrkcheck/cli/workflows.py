"""The flags of ``mrkcheck check`` that check a workflow or add a user's properties
(docs/workflows.md): they select the registry's ``workflow`` model and set its options, as
``mrkcheck check workflow -D workflow=FILE.py`` would."""

from __future__ import annotations

import argparse

from mrkcheck.errors import UsageError, echo
from mrkcheck.registry import DEFAULT_MODEL


def add_options(check: argparse.ArgumentParser) -> None:
    """``--workflow``, ``--others``, ``--copies``, ``--properties-from``: the ``workflow`` model
    (docs/workflows.md), set as its options are."""
    check.add_argument(
        "--workflow",
        action="append",
        metavar="FILE.py|MODULE[:NAME]",
        help="check this workflow against the KMS model (repeatable: they run concurrently)",
    )
    check.add_argument(
        "--others",
        metavar="none|any|WORKFLOW",
        help="other actors: none (default), any API call, or a workflow run alongside",
    )
    check.add_argument("--copies", metavar="N", help="run N copies of each workflow at once")
    check.add_argument(
        "--properties-from",
        metavar="FILE.py|MODULE",
        help="add the properties its properties(k) function returns",
    )


def apply(args: argparse.Namespace) -> None:
    """The workflow flags as options of the ``workflow`` model (which they select)."""
    flags = {
        "workflow": ",".join(args.workflow or []),
        "others": args.others,
        "copies": args.copies,
        "properties_from": args.properties_from,
    }
    given = {k: v for k, v in flags.items() if v}
    if not given:
        return
    if args.model not in (None, DEFAULT_MODEL, "workflow"):
        raise UsageError(
            f"--{next(iter(given)).replace('_', '-')} checks the kms model, not {echo(args.model)}"
        )
    if not flags["workflow"] and (args.others or args.copies):
        raise UsageError("--others and --copies need --workflow")
    args.model = "workflow"
    args.set = [*(args.set or []), *(f"{k}={v}" for k, v in given.items())]

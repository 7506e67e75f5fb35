"""``mrkcheck conform``: drive a KMS endpoint (a URL, moto in-process, or a fake answering from a
mutant) through model-generated scenarios and report where it diverges from the model.

The runner is :mod:`mrkcheck.traces.conform`; the KMS expectations :mod:`mrkcheck.model.conformance`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from mrkcheck import interrupts
from mrkcheck.cli.common import add_set_option
from mrkcheck.errors import UsageError, output_file, output_folder, unknown_name
from mrkcheck.registry import factory_options, load_factory, parse_set
from mrkcheck.traces.conform_endpoint import DRIVEN, EndpointError
from mrkcheck.traces.itf import TraceFormatError

if TYPE_CHECKING:
    from mrkcheck.traces.conform import Report, Settings

MAX_LENGTH = 1000  # calls per run: traces/conform_search.py draws 8 choices per call


def runner() -> ModuleType:
    """The conformance runner. It is KMS-specific (it reads the KMS model's expectations), so it
    is imported when ``conform`` runs: starting the command line loads no model."""
    from mrkcheck.traces import conform

    return conform


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "conform",
        help="drive a KMS endpoint through model-generated scenarios; report divergences",
        epilog="exit status: 0 no divergence; 12 divergences (traces under --out); 150 bad input, "
        "unreachable endpoint, not a KMS endpoint, or an endpoint that stopped answering (the "
        "runs before it are reported)",
    )
    p.set_defaults(run=cmd_conform)
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument(
        "--endpoint-url", help="the KMS endpoint to test, e.g. http://127.0.0.1:5000"
    )
    where.add_argument("--in-process", action="store_true", help="moto's mock_aws, no server")
    where.add_argument(
        "--against-mutant",
        metavar="MUTANT",
        help="a fake endpoint answering from the model ('none') or a mutant: shows what a bug "
        "looks like",
    )
    p.add_argument("--regions", default="3", help="a number, or names (us-east-1,eu-west-1,...)")
    p.add_argument("--key-sets", type=int, default=2, help="key sets per run (1-3)")
    p.add_argument("--origins", default="AWS_KMS", help="CreateKey origins (default AWS_KMS)")
    p.add_argument("--runs", type=int, default=10, help="random runs (default 10)")
    p.add_argument(
        "--length",
        type=int,
        default=20,
        help=f"API calls per run (default 20, at most {MAX_LENGTH})",
    )
    p.add_argument(
        "--seed",
        type=int,
        default=0,
        help="seed of the Hypothesis search (default 0): the same seed against the same endpoint "
        "gives the same report; printed at the end",
    )
    p.add_argument(
        "--skip",
        action="append",
        default=[],
        metavar="ACTION",
        help="never call this action (repeatable), e.g. UpdatePrimaryRegion",
    )
    p.add_argument(
        "--trace",
        action="append",
        default=[],
        metavar="FILE",
        help="replay the API calls of an ITF trace instead of random runs (repeatable)",
    )
    p.add_argument(
        "--settle",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="poll DescribeKey this long before an unexplained view is a divergence",
    )
    p.add_argument(
        "--key-ref",
        choices=("arn", "id", "both"),
        default="both",
        help="name keys in calls by their ARN, by key ID, or both (drawn per call; default)",
    )
    p.add_argument(
        "--strict",
        action="store_true",
        help="one prediction per call: the model's guard order and §4 rows as written, no "
        "eventual-consistency lag (default: accept every documented reading and report which "
        "one the endpoint chose)",
    )
    p.add_argument(
        "--probes",
        type=float,
        default=0.2,
        metavar="P",
        help="chance that a call sends one input in a documented invalid or optional form "
        "(malformed ARN, another Region's ARN, bad Region, windows 6/7/30/31, ...; default 0.2, "
        "in hundredths)",
    )
    p.add_argument(
        "--no-shrink",
        action="store_true",
        help="do not replay findings to find their shortest call sequence",
    )
    p.add_argument(
        "--hypothesis-replays",
        type=int,
        default=0,
        metavar="N",
        help="replays Hypothesis's shrinker may spend on each finding before calls are dropped "
        "one chunk at a time (default 0: measured, it rarely shortens what that finds and "
        "doubles the time; worth it only against a fast endpoint)",
    )
    add_set_option(p, "a model option (e.g. role_error=ValidationException)")
    p.add_argument(
        "--out",
        type=output_folder,
        help="folder for one ITF trace per finding (its shortest calls)",
    )
    p.add_argument(
        "--json", nargs="?", const="-", type=output_file, help="JSON report to stdout or FILE"
    )


def settings_from(args: Any) -> Settings:
    if args.runs < 1 or args.length < 1:
        raise UsageError("--runs and --length must be at least 1")
    if args.length > MAX_LENGTH:
        raise UsageError(
            f"--length {args.length}: at most {MAX_LENGTH} calls per run (Hypothesis draws at "
            "most 8192 choices per example, 8 per call); raise --runs instead"
        )
    if not 0 <= args.probes <= 1:
        raise UsageError(f"--probes must be between 0 and 1, not {args.probes}")
    if args.hypothesis_replays < 0:
        raise UsageError(f"--hypothesis-replays must be at least 0, not {args.hypothesis_replays}")
    if not 1 <= args.key_sets <= 3:
        raise UsageError(f"--key-sets must be between 1 and 3, not {args.key_sets}")
    choices = parse_set(args.set, factory_options(load_factory("kms")), "kms")
    skip = tuple(dict.fromkeys(args.skip))
    for name in skip:
        if name not in DRIVEN and name != "ImportKeyMaterial":
            raise UsageError(f"--skip: {unknown_name('API action', name, DRIVEN)}")
    return runner().Settings(
        regions=args.regions,
        key_sets=args.key_sets,
        origins=args.origins,
        runs=args.runs,
        length=args.length,
        seed=args.seed,
        skip=skip,
        settle=args.settle,
        key_ref=args.key_ref,
        choices=tuple(sorted(choices.items())),
        strict=args.strict,
        probes=args.probes,
        shrink=not args.no_shrink,
        hypothesis_replays=args.hypothesis_replays,
    )


def cmd_conform(args: Any) -> int:
    """Run, report, write traces; exit 0 (no divergence), 12 (divergences), 150 (bad input),
    130 (interrupted: the finished runs are reported), 16 (out of memory, likewise)."""
    settings = settings_from(args)
    if args.in_process:
        clients, name = runner().moto_in_process, "moto (in-process mock_aws)"
    elif args.against_mutant:
        clients, name = (
            runner().mutant_clients(args.against_mutant),
            f"the model (mutant {args.against_mutant})",
        )
    else:
        clients, name = runner().url_clients(args.endpoint_url), args.endpoint_url
    try:
        runner().conform_model(
            settings
        )  # bad Regions or options: one line before anything is called
        report = runner().run_conformance(settings, clients, name, args.out, args.trace)
    except ImportError as exc:
        raise UsageError(f"conform needs boto3 (and moto for --in-process): {exc}") from None
    except EndpointError as exc:
        raise UsageError(str(exc)) from None
    except TraceFormatError as exc:
        raise UsageError(f"bad trace: {exc}") from None
    interrupts.enter(interrupts.REPORTING)
    emit_report(report, args.json)
    if report.cut:
        print(f"mrkcheck: {report.cut}; the report covers the runs before it", file=sys.stderr)
    return report.exit_code


def emit_report(report: Report, json_target: str | None) -> None:
    if json_target is not None:
        text = json.dumps(report.as_dict(), indent=2, sort_keys=True)
        if json_target == "-":
            print(text)
            return
        Path(json_target).write_text(text + "\n", encoding="utf-8")
    print(report.text())

"""``mrkcheck run``: make a workflow's calls for real, on a KMS endpoint through boto3, record the
run as an ITF trace, and say whether it is a run of the model (what ``mrkcheck trace check``
says of the file). The runner is :mod:`mrkcheck.traces.workflow_run`."""

from __future__ import annotations

import argparse
import sys
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import replace
from typing import Any

from mrkcheck import interrupts
from mrkcheck.check.result import EXIT_INCOMPLETE, EXIT_INTERRUPTED, EXIT_OK, EXIT_SAFETY
from mrkcheck.cli.common import add_set_option
from mrkcheck.errors import UsageError, output_file
from mrkcheck.registry import factory_options, load_factory, parse_set


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "run",
        help="run a workflow on a KMS endpoint (boto3); record it as an ITF trace and judge it",
        epilog="exit status: 0 the run is a run of the model and every workflow ended; 12 it is "
        "not (the first step that is not is named), or it is one in which a workflow's property "
        "fails; 15 the run stopped early (a call the endpoint does not implement, --max-steps); "
        "150 bad input or unreachable endpoint",
    )
    p.set_defaults(run=cmd_run)
    p.add_argument("--workflow", required=True, metavar="FILE.py|MODULE[:NAME]")
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--endpoint-url", help="the KMS endpoint, e.g. http://127.0.0.1:5000")
    where.add_argument("--in-process", action="store_true", help="moto's mock_aws, no server")
    where.add_argument(
        "--against-mutant",
        metavar="MUTANT",
        help="a fake endpoint answering from the model ('none') or one of its mutants",
    )
    p.add_argument("--regions", help="Regions: a number, or names (us-east-1,eu-west-1,...)")
    add_set_option(p, "a model option (mrkcheck list options workflow)")
    p.add_argument("--key-ref", choices=("arn", "id"), default="arn")
    p.add_argument(
        "--interval",
        type=float,
        default=0.5,
        help="seconds between two polls of the same wait (default 0.5)",
    )
    p.add_argument("--max-steps", type=int, default=200, help="stop after this many steps")
    p.add_argument("--out", "-o", type=output_file, help="write the run as an ITF trace here")


def cmd_run(args: argparse.Namespace) -> int:
    from mrkcheck.traces.conform_endpoint import EndpointError
    from mrkcheck.traces.itf import write_itf
    from mrkcheck.traces.replay import replay
    from mrkcheck.traces.workflow_run import run_on_endpoint

    interrupts.enter("building the model")
    model = _model(args)
    regions = model.universe("Region").elements
    try:
        with _clients(args, regions) as clients:
            interrupts.enter("running the workflow on the endpoint")
            run = run_on_endpoint(model, clients, args.key_ref, args.interval, args.max_steps)
    except ImportError as exc:
        raise UsageError(f"run needs boto3 (and moto for --in-process): {exc}") from None
    except EndpointError as exc:
        raise UsageError(str(exc)) from None
    interrupts.enter(interrupts.REPORTING)
    for line in run.log:
        print(line)
    verdict = replay(model, run.trace)
    if args.out:  # naming the property it violates, so that ``trace check`` says so too
        failed = verdict.violates[0] if verdict.ok and verdict.violates else None
        write_itf(replace(run.trace, property_name=failed), args.out)
        print(f"wrote {args.out}")
    print(verdict.line())
    if run.interrupted:
        print(f"mrkcheck: {run.problem}: the run above is partial", file=sys.stderr)
        return EXIT_INTERRUPTED
    if not verdict.ok:
        return EXIT_SAFETY
    if verdict.violates:  # a run of the model in which the workflow failed
        print(f"the run violates {', '.join(verdict.violates)}")
        return EXIT_SAFETY
    if run.problem:
        print(f"mrkcheck: incomplete: {run.problem}", file=sys.stderr)
        return EXIT_INCOMPLETE
    return EXIT_OK


def _model(args: argparse.Namespace) -> Any:
    factory = load_factory("workflow")
    items = [f"workflow={args.workflow}", *args.set]
    if args.regions:
        items.append(f"regions={args.regions}")
    return factory(**parse_set(items, factory_options(factory), "workflow"))


def _clients(args: argparse.Namespace, regions: tuple[str, ...]) -> AbstractContextManager[Any]:
    from mrkcheck.traces.conform_endpoint import boto3_clients, check_reachable

    if args.in_process:
        return _moto(regions)
    if args.against_mutant:
        from mrkcheck.registry import model_builder
        from mrkcheck.traces.conform_fake import model_clients

        mutant = None if args.against_mutant == "none" else args.against_mutant
        kms = model_builder("kms", mutant)(regions=",".join(regions))
        return nullcontext(model_clients(kms))
    clients = boto3_clients(regions, args.endpoint_url)
    check_reachable(clients, args.endpoint_url)
    return nullcontext(clients)


@contextmanager
def _moto(regions: tuple[str, ...]):
    from moto import mock_aws

    from mrkcheck.traces.conform_endpoint import boto3_clients

    with mock_aws():
        yield boto3_clients(regions, None)

"""``mrkcheck serve``: the KMS model as an HTTP endpoint (KMS JSON 1.1) for boto3, the AWS CLI and
any SDK with ``--endpoint-url``; the record of what happened as ITF traces. Guide: docs/serve.md.

The protocol front end is :mod:`mrkcheck.serve.json_protocol` (knows nothing of KMS); the KMS
API over the model is :mod:`mrkcheck.traces.kms_service`."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import Any

from mrkcheck import interrupts
from mrkcheck.check.result import EXIT_INTERRUPTED
from mrkcheck.cli.common import add_set_option
from mrkcheck.errors import UsageError, output_file
from mrkcheck.registry import factory_options, find_mutant, load_factory, parse_set
from mrkcheck.serve.json_protocol import ServiceServer, is_loopback

TRANSIENTS = ("fast", "realistic", "adversarial", "manual")


def add_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "serve",
        help="serve the KMS model as a KMS endpoint (boto3, AWS CLI: --endpoint-url)",
        epilog="Stop it with Ctrl-C or SIGTERM: the traces (--trace) and state (--state) are "
        "written, exit status 130. Exit 150: bad options, port in use, unusable state file.",
    )
    p.set_defaults(run=cmd_serve)
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument(
        "--port", type=int, default=4576, help="TCP port (default 4576; 0: any free port)"
    )
    p.add_argument(
        "--allow-remote", action="store_true", help="allow binding to a non-loopback address"
    )
    p.add_argument("--regions", default="3", help="a number, or names (us-east-1,eu-west-1,...)")
    p.add_argument(
        "--key-sets",
        type=int,
        default=3,
        help="key sets per model instance (1-3; more keys start another instance)",
    )
    add_set_option(
        p, "a model option (mrkcheck list options kms), e.g. role_error=ValidationException"
    )
    p.add_argument("--mutant", help="serve a seeded bug (mrkcheck list mutants kms)")
    p.add_argument(
        "--transients",
        choices=TRANSIENTS,
        default="fast",
        help="when KMS's own steps happen: fast (at once), realistic (after a few seconds), "
        "adversarial (held long, least expected DescribeKey views), manual (/_mrkcheck/step)",
    )
    p.add_argument(
        "--transient-seconds",
        type=float,
        metavar="SECONDS",
        help="how long realistic/adversarial hold a transient (default 2 / 10)",
    )
    p.add_argument(
        "--state", type=output_file, metavar="FILE", help="keep the state in FILE across restarts"
    )
    p.add_argument(
        "--trace", type=output_file, metavar="FILE", help="write the run as ITF on shutdown"
    )
    p.add_argument("--log", action="store_true", help="print one line per request on stderr")


def make_service(args: Any) -> Any:
    """The KMS service the options describe (one-line UsageError for bad ones)."""
    from mrkcheck.traces.kms_service import KmsService
    from mrkcheck.traces.kms_world import ServeConfig, StateFileError

    options = parse_set(args.set, factory_options(load_factory("kms")), "kms")
    for name in ("regions", "key_sets"):
        if name in options:
            raise UsageError(f"-D {name}: use --{name.replace('_', '-')}")
    if not 1 <= args.key_sets <= 3:
        raise UsageError(f"--key-sets must be between 1 and 3, not {args.key_sets}")
    if args.transient_seconds is not None and not 0 <= args.transient_seconds <= 3600:
        raise UsageError(f"--transient-seconds must be 0 to 3600, not {args.transient_seconds}")
    build = find_mutant("kms", args.mutant).build if args.mutant else load_factory("kms")
    config = ServeConfig(
        regions=args.regions,
        options=tuple(sorted(options.items())),
        mutant=args.mutant,
        transients=args.transients,
        delay=args.transient_seconds,
        key_sets=args.key_sets,
    )
    try:
        return KmsService(config, build, state_file=args.state)
    except StateFileError as exc:
        raise UsageError(str(exc)) from None


def bind(args: Any, service: Any) -> ServiceServer:
    if not is_loopback(args.host) and not args.allow_remote:
        raise UsageError(
            f"--host {args.host} is not a loopback address: this server has no authentication; "
            "add --allow-remote to serve other machines"
        )
    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port must be 0 to 65535, not {args.port}")
    log = (lambda line: print(line, file=sys.stderr, flush=True)) if args.log else None
    try:
        return ServiceServer((args.host, args.port), service, log)
    except OSError as exc:
        raise UsageError(f"cannot listen on {args.host}:{args.port}: {exc.strerror}") from None


def cmd_serve(args: Any) -> int:
    service = make_service(args)
    server = bind(args, service)
    world = service.world
    print(
        f"mrkcheck serve: listening on {server.url} (Regions {', '.join(world.regions)}; "
        f"transients {args.transients}" + (f"; mutant {args.mutant}" if args.mutant else "") + ")",
        flush=True,
    )
    interrupts.enter("serving")
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    interrupts.enter(interrupts.REPORTING)
    server.server_close()
    with world.lock:
        if args.trace:
            for path in write_traces(service, args.trace):
                print(f"wrote {path}", flush=True)
        if service.state_file is not None:
            world.save(service.state_file)
    print("mrkcheck serve: stopped", file=sys.stderr, flush=True)
    return EXIT_INTERRUPTED


def write_traces(service: Any, target: str) -> list[str]:
    """Instance 1's run to ``target``; instance n's to ``target`` with ``-n`` before the
    extension (keys 4-6 live in instance 2, and so on)."""
    from mrkcheck.traces.itf import pretty_json

    world = service.world
    world.ensure_run(0)  # no key yet: instance 1 is the initial state alone
    paths = []
    base = Path(target)
    stem, dot, ext = base.name.partition(".")
    for run in range(len(world.runs)):
        path = base if run == 0 else base.with_name(f"{stem}-{run + 1}{dot}{ext}")
        path.write_text(pretty_json(world.itf(run)) + "\n", encoding="utf-8")
        paths.append(str(path))
    return paths

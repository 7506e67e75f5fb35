"""``python -m mrkcheck`` and the ``mrkcheck`` command: signals are handled before anything loads.

Loading the checker takes a few hundredths of a second; Ctrl-C or SIGTERM then must exit 130
without a traceback, as at any other moment. So the first thing :func:`main` does is make SIGTERM
raise ``KeyboardInterrupt`` as SIGINT already does; from then on an interrupt while the handlers
are installed (and never removed: the process ends with the command) or the checker loads is
caught here. Before that line, the interpreter is starting up and no code of ours has run: a
signal then ends the process as it would any Python program (README, "Exit codes").
"""

from __future__ import annotations

import signal
import sys

EXIT_INTERRUPTED = 130  # mrkcheck.check.result's, which is not loaded yet


def main() -> int:
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        from mrkcheck.interrupts import install

        install()
        from mrkcheck.cli import main as run_command
    except KeyboardInterrupt:
        print("mrkcheck: interrupted during start-up", file=sys.stderr)
        return EXIT_INTERRUPTED
    return run_command()


if __name__ == "__main__":
    sys.exit(main())

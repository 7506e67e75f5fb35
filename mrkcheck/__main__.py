"""``python -m mrkcheck`` and the ``mrkcheck`` command: signals are handled before anything loads.

Loading the checker takes a few hundredths of a second; Ctrl-C or SIGTERM then must exit 130
without a traceback, as at any other moment. So the handlers are installed before the import
(and never removed: the process ends with the command), and an interrupt during it is caught here.
"""

from __future__ import annotations

import sys

EXIT_INTERRUPTED = 130  # mrkcheck.result's, which is not loaded yet


def main() -> int:
    from mrkcheck.interrupts import install

    install()
    try:
        from mrkcheck.cli import main as run_command
    except KeyboardInterrupt:
        print("mrkcheck: interrupted during start-up", file=sys.stderr)
        return EXIT_INTERRUPTED
    return run_command()


if __name__ == "__main__":
    sys.exit(main())

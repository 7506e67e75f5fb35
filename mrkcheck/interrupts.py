"""Ctrl-C, SIGTERM and the phase they cut: one behaviour for every command.

SIGTERM (what CI runners and ``timeout`` send) becomes the ``KeyboardInterrupt`` that Ctrl-C
raises, so each engine's ``except KeyboardInterrupt`` that keeps its partial results handles both,
and both exit 130.

Z3 searches in C, where Python's signal handlers wait until the call returns (minutes, on a hard
query). So a thread, woken by the signal through ``signal.set_wakeup_fd``, interrupts Z3's context:
the solver returns at once and the handler raises in the main thread.

A command names the phase it is in (:func:`enter`), so that the last-resort message of
``mrkcheck.cli.main`` says what was cut, e.g. "interrupted during liveness".

Python ignores an exception raised in a ``__del__`` (Z3 frees its terms there, thousands of
times a second), and ctypes turns one raised while converting arguments into an ArgumentError.
So a signal that lands in a finalizer is delivered again a moment later; one that a library
swallows (a bare ``except:``) is delivered again every second until the command reaches
:data:`REPORTING` (where every command goes once it has handled an interrupt); and :func:`pending` lets ``main``
call any error that follows a signal what it is: an interrupt.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

_phase = "start-up"
_installed = False
_signalled = False
REDELIVERY_SECONDS = 0.02  # after a signal landed in a finalizer
SWALLOWED_SECONDS = 1.0  # after a signal, unless the command has reached REPORTING by then
REPORTING = "writing the reports"  # the phase that prints and writes what was found


def enter(phase: str) -> None:
    """Record the phase the command is now in ("safety search", "liveness", "BMC depth 3"...)."""
    global _phase
    _phase = phase


def current() -> str:
    return _phase


def pending() -> bool:
    """A signal arrived: an error after it is taken for the interrupt (see the module doc)."""
    return _signalled


def _interrupt(signum: int, frame: FrameType | None) -> None:
    global _signalled
    _signalled = True
    if _in_finalizer(frame):  # raised here, it would be printed and forgotten: raise it later
        _later(REDELIVERY_SECONDS, _deliver, signum)
        return
    _later(SWALLOWED_SECONDS, _deliver_unless_reporting, signum)
    raise KeyboardInterrupt(f"signal {signum}")


def _later(seconds: float, function: Callable[..., None], *args: object) -> None:
    timer = threading.Timer(seconds, function, args)
    timer.daemon = True  # never keeps the process alive
    timer.start()


def _deliver(signum: int) -> None:
    main = threading.main_thread().ident
    if main is not None:
        signal.pthread_kill(main, signum)


def _deliver_unless_reporting(signum: int) -> None:
    if _installed and _phase != REPORTING:
        _deliver(signum)


def _in_finalizer(frame: FrameType | None) -> bool:
    while frame is not None:
        if frame.f_code.co_name == "__del__":
            return True
        frame = frame.f_back
    return False


def install() -> Callable[[], None] | None:
    """Make SIGINT and SIGTERM raise KeyboardInterrupt and stop Z3; return the function that
    puts the previous handlers back (None when they were already installed, or when this is
    not the main thread, the only one that may set signal handlers)."""
    global _installed, _signalled
    if _installed or threading.current_thread() is not threading.main_thread():
        return None
    _signalled = False
    previous = {
        signal.SIGINT: signal.signal(signal.SIGINT, _interrupt),
        signal.SIGTERM: signal.signal(signal.SIGTERM, _interrupt),
    }
    read_end, write_end = os.pipe()
    os.set_blocking(write_end, False)
    previous_fd = signal.set_wakeup_fd(write_end, warn_on_full_buffer=False)
    threading.Thread(target=_stop_z3_on_signal, args=(read_end,), daemon=True).start()
    _installed = True

    def restore() -> None:
        global _installed
        signal.set_wakeup_fd(previous_fd)
        os.close(write_end)  # the watcher thread reads end-of-file and stops
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        _installed = False

    return restore


@contextmanager
def handled() -> Iterator[None]:
    """:func:`install` for the block only, so that calling ``main()`` in a test leaves pytest's
    handlers as they were."""
    restore = install()
    try:
        yield
    finally:
        if restore is not None:
            restore()


def _stop_z3_on_signal(read_end: int) -> None:
    """Runs in its own thread: each signal byte interrupts Z3, if Z3 is in use."""
    try:
        while os.read(read_end, 64):
            z3 = sys.modules.get("z3")
            if z3 is not None:
                z3.main_ctx().interrupt()
    finally:
        os.close(read_end)

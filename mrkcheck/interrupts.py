"""Ctrl-C, SIGTERM and the phase they cut: one behaviour for every command.

SIGTERM (what CI runners and ``timeout`` send) becomes the ``KeyboardInterrupt`` that Ctrl-C
raises, so each engine's ``except KeyboardInterrupt`` that keeps its partial results handles both,
and both exit 130.

A command names the phase it is in (:func:`enter`), so that the last-resort message of
``mrkcheck.cli.main`` says what was cut, e.g. "interrupted during liveness".

Where the interrupt may not be raised. Python ignores an exception raised in a ``__del__`` (Z3
frees its terms there, thousands of times a second) or in a garbage-collector callback
(Hypothesis times every collection with one), printing a traceback; one raised inside Z3's
Python layer leaves half-built objects whose finalizers then print tracebacks; and one that passes through code run
by ``exec`` or ``eval`` of a string (dataclasses and namedtuples make their methods that way)
makes CPython end the process by SIGINT at exit, whatever the command returned. So a signal
that lands in such code is *owed*: it is raised by the next :func:`checkpoint` or by the same
signal delivered again a moment later, once the main thread has left that code.

Z3 searches in C, where Python's handlers wait until the call returns (minutes, on a hard
query), and it drops an interrupt that comes before its check has begun. So every solver call
goes through :func:`stoppable`, which registers its context; a thread, woken by the signal
through ``signal.set_wakeup_fd``, interrupts the registered context, again every few
milliseconds until the main thread has raised the interrupt; :func:`stoppable` raises it before
and after the call.

A library that swallows the interrupt (a bare ``except:``) gets the signal again every second
until the command reaches :data:`REPORTING` (where every command goes once it has handled an
interrupt); and :func:`pending` lets ``main`` call any error that follows a signal what it is:
an interrupt.
"""

from __future__ import annotations

import gc
import os
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Protocol, TypeVar

_phase = "start-up"
_installed = False
_signalled = False  # a signal arrived during this command
_owed = False  # a signal arrived where it could not be raised: raise it at the next chance
_solver_lock = threading.Lock()
_running_z3: tuple[_Interruptible] | None = None  # the solver call in progress: (its context,)
REDELIVERY_SECONDS = 0.02  # after a signal landed where it could not be raised
SWALLOWED_SECONDS = 1.0  # after a signal, unless the command has reached REPORTING by then
Z3_RETRY_SECONDS = 0.01  # between interrupts of a solver call until the main thread has stopped
REPORTING = "writing the reports"  # the phase that prints and writes what was found

T = TypeVar("T")


class _Interruptible(Protocol):
    """What :func:`stoppable` needs of a ``z3.Context`` (this module does not load Z3)."""

    def interrupt(self) -> None: ...


def enter(phase: str) -> None:
    """Record the phase the command is now in ("safety search", "liveness", "BMC depth 3"...)."""
    global _phase
    _phase = phase


def current() -> str:
    return _phase


def pending() -> bool:
    """A signal arrived: an error after it is taken for the interrupt (see the module doc)."""
    return _signalled


def checkpoint() -> None:
    """Raise the interrupt owed by a signal that landed where it could not be raised."""
    global _owed
    if _owed:
        _owed = False
        raise KeyboardInterrupt("signal")


@contextmanager
def stoppable(context: _Interruptible) -> Iterator[None]:
    """Around one solver call on ``context`` (a ``z3.Context``): a signal at any moment, even
    just before the call starts, stops it and raises ``KeyboardInterrupt`` here."""
    global _running_z3
    with _solver_lock:
        _running_z3 = (context,)  # a new tuple: the watcher tells this call from the next one
    try:
        checkpoint()  # the signal came before the registration
        yield
    finally:
        with _solver_lock:
            _running_z3 = None
    checkpoint()  # the signal stopped the call: its handler ran inside Z3 and owes the raise


def _interrupt(signum: int, frame: FrameType | None) -> None:
    global _signalled, _owed
    _signalled = True
    if _unsafe_to_raise(frame):
        _owed = True
        _later(REDELIVERY_SECONDS, _deliver_if_owed, signum)
        return
    _owed = False  # this raise pays what an earlier signal owed
    _later(SWALLOWED_SECONDS, _deliver_unless_reporting, signum)
    raise KeyboardInterrupt(f"signal {signum}")


def _unsafe_to_raise(frame: FrameType | None) -> bool:
    """Is the main thread in a finalizer, in a garbage-collector callback, in Z3's Python layer
    or in code compiled from a string (see the module doc)?"""
    callbacks = {getattr(c, "__code__", None) for c in gc.callbacks}
    while frame is not None:
        code = frame.f_code
        if code.co_name == "__del__" or code.co_filename == "<string>" or code in callbacks:
            return True
        if frame.f_globals.get("__name__", "").partition(".")[0] == "z3":
            return True
        frame = frame.f_back
    return False


def _later(seconds: float, function: Callable[..., None], *args: object) -> None:
    timer = threading.Timer(seconds, function, args)
    timer.daemon = True  # never keeps the process alive
    timer.start()


def _deliver(signum: int) -> None:
    main = threading.main_thread().ident
    if main is not None:
        signal.pthread_kill(main, signum)


def _deliver_if_owed(signum: int) -> None:
    if _installed and _owed:
        _deliver(signum)


def _deliver_unless_reporting(signum: int) -> None:
    if _installed and _phase != REPORTING:
        _deliver(signum)


def install() -> Callable[[], None] | None:
    """Make SIGINT and SIGTERM raise KeyboardInterrupt and stop Z3; return the function that
    puts the previous handlers back (None when they were already installed, or when this is
    not the main thread, the only one that may set signal handlers)."""
    global _installed, _signalled, _owed
    if _installed or threading.current_thread() is not threading.main_thread():
        return None
    _signalled = _owed = False
    read_end, write_end = os.pipe()
    os.set_blocking(write_end, False)
    threading.Thread(target=_stop_z3_on_signal, args=(read_end,), daemon=True).start()
    previous_fd = signal.set_wakeup_fd(write_end, warn_on_full_buffer=False)
    previous = {
        signal.SIGINT: signal.signal(signal.SIGINT, _interrupt),
        signal.SIGTERM: signal.signal(signal.SIGTERM, _interrupt),
    }
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
    """Runs in its own thread: after each signal, stops the solver call in progress, if any."""
    try:
        while os.read(read_end, 64):
            _interrupt_running_call()
    finally:
        os.close(read_end)


def _interrupt_running_call() -> None:
    """Z3 drops an interrupt that comes before its check has begun: repeat it until the call
    that was running when the signal came has returned. (A call that begins later begins after
    the main thread has taken the signal, which :func:`stoppable` then raises.)"""
    with _solver_lock:
        call = _running_z3
    returned = threading.Event()  # never set: a sleep
    while call is not None and _installed:
        with _solver_lock:
            if _running_z3 is not call:
                return
            call[0].interrupt()
        returned.wait(Z3_RETRY_SECONDS)

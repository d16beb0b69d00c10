"""One line and one exit code for every kind of user error, shared by ``python -m mnist1d_hf`` and ``cli.py``.

Exit codes:

====  =========================================================================================================
0     success
1     a bug: anything not listed below ends with Python's traceback
2     bad input: an invalid value, option, name or source; an output path that already exists
3     I/O: a file or folder cannot be read or written (missing parent, permissions, read-only, disk full)
4     too large: the data would not fit in the available memory (the estimate is printed)
5     the Hugging Face Hub refused the request or could not be reached (``publish``)
130   interrupted (Ctrl-C, SIGINT)
143   terminated (SIGTERM, as sent by ``kill``, ``timeout`` and cluster schedulers)
====  =========================================================================================================

The message is always ``error: <one line>`` on stderr, and nothing is left half-written: outputs are built
aside and renamed into place (``atomic``), and ``publish`` deletes a repo it created if its commit fails.
130 and 143 follow the shell's convention (128 + the signal's number).
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

EXIT_BAD_INPUT = 2
EXIT_IO = 3
EXIT_TOO_LARGE = 4
EXIT_HUB = 5
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143


class ConfigError(ValueError):
    """A user-supplied value outside what is allowed; the message names the field, the value and the rule."""


class TooLargeError(MemoryError):
    """A size that cannot fit in memory, refused before allocating; the message carries the estimate."""


class HubError(RuntimeError):
    """The Hub refused a request or could not be reached; the message says what to do."""


class Terminated(SystemExit):
    """Raised by SIGTERM inside ``terminate_on_sigterm``: the stack unwinds (temporaries are removed, a fit saves)
    and, even if nothing catches it, the process exits 143."""

    def __init__(self) -> None:
        super().__init__(EXIT_TERMINATED)


@contextmanager
def terminate_on_sigterm() -> Iterator[None]:
    """Within the block, SIGTERM raises ``Terminated`` in the main thread instead of killing the process at once.

    Python's default for SIGTERM ends the process without unwinding, leaving temporary files behind. For an entry
    point only: the previous handler is restored on exit, and a library must not take the signal from its user.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def raise_terminated(signum: int, frame: object) -> None:
        raise Terminated()

    previous = signal.signal(signal.SIGTERM, raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)


def exit_code(err: BaseException) -> int | None:
    """The documented exit code of a user-facing error, or ``None`` for a bug (which keeps its traceback)."""
    if isinstance(err, KeyboardInterrupt):
        return EXIT_INTERRUPTED
    if isinstance(err, Terminated):
        return EXIT_TERMINATED
    if isinstance(err, TooLargeError):
        return EXIT_TOO_LARGE
    if isinstance(err, HubError):
        return EXIT_HUB
    if isinstance(err, (ValueError, FileExistsError)):
        return EXIT_BAD_INPUT
    if isinstance(err, OSError):
        return EXIT_IO
    return None


def one_line(err: BaseException) -> str:
    """``err`` as one line: an OSError as ``path: reason`` (as Unix tools say it), anything else its first line."""
    if isinstance(err, KeyboardInterrupt):
        return "interrupted"
    if isinstance(err, Terminated):
        return "terminated (SIGTERM)"
    if isinstance(err, OSError) and not isinstance(err, FileExistsError) and err.strerror:
        path = f"{os.fsdecode(err.filename)}: " if err.filename is not None else ""
        return f"{path}{err.strerror}"
    lines = str(err).strip().splitlines()
    return lines[0] if lines else type(err).__name__


def exit_on_user_error(err: BaseException) -> None:
    """Print ``error: <one line>`` and exit with ``err``'s code; re-raise a bug unchanged."""
    code = exit_code(err)
    if code is None:
        raise err
    print(f"error: {one_line(err)}", file=sys.stderr)
    raise SystemExit(code)

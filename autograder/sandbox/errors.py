"""Exceptions raised by the trusted side of the sandbox."""

from __future__ import annotations

import signal


def describe_signal(sig: signal.Signals) -> str:
    """``SIGSEGV (segmentation fault)``: the signal's name and what the system calls it (the
    name alone for SIGKILL, which says no more than "killed")."""
    what = signal.strsignal(sig) or ""
    if not what or sig == signal.SIGKILL:
        return sig.name
    return f"{sig.name} ({what if what[:2].isupper() else what[:1].lower() + what[1:]})"


class SandboxError(Exception):
    """Base class: anything that went wrong with the child or the conversation with it."""


class Timeout(SandboxError):
    """The child did not answer within the wall-clock limit; it has been killed."""


class Crashed(SandboxError):
    """The child died (``reason`` says how, e.g. ``"killed by SIGSEGV (segmentation fault)"``)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ProtocolError(SandboxError):
    """The child sent something malformed, oversized or unexpected."""


class StudentError(SandboxError):
    """Student code raised an exception; all three texts come from the child and are truncated.

    They may be shown to the student: they hold nothing the child did not already know.
    """

    def __init__(self, type_name: str, message: str, traceback_text: str) -> None:
        super().__init__(f"{type_name}: {message}")
        self.type_name = type_name
        self.message = message
        self.traceback_text = traceback_text


class IsolationRefused(SandboxError):
    """The sandbox reached an isolation level below the configured minimum (or, at the ``uid``
    level, hidden files are readable by the sandbox user); the child was killed before running
    anything of the submission."""

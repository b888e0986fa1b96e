# SPDX-License-Identifier: MIT
"""The exceptions of the vmsig package.

Every failure of the library (a negative errno value in C) becomes a
:class:`Error`, an :class:`OSError` whose ``errno`` is that value (positive)
and whose ``message`` is what the daemon said, when it said something.
Subclasses name the cases a caller handles on purpose:

* :class:`Fault`     -- a read or write met an address that is not readable
                        (not mapped, not present, not RAM); it carries the
                        ``address`` that failed and ``done``, the number of
                        bytes transferred before it.
* :class:`StaleError` -- the object belongs to an epoch (a VM session) that
                        has ended, or to a holder that was closed.  Get a
                        fresh one from the :class:`vmsig.Holder`.

Runs in: holder
"""

import errno as _errno
import os


class Error(OSError):
    """A vmsig operation failed.

    Attributes: ``errno`` (positive errno value), ``strerror`` (the C
    library's text for it), ``message`` (the daemon's or the library's own
    explanation, possibly ""), ``operation`` (what was attempted).
    """

    def __init__(self, err, message="", operation=""):
        err = abs(int(err))
        text = os.strerror(err)
        detail = ": ".join(x for x in (operation, message) if x)
        super().__init__(err, text + (" (" + detail + ")" if detail else ""))
        self.message = message
        self.operation = operation

    def __reduce__(self):
        return (type(self), (self.errno, self.message, self.operation))


class Fault(Error):
    """A guest address could not be read (or written).

    ``address`` is the first byte that failed (guest-physical or virtual,
    as the call took it) and ``done`` is how many bytes were read (written)
    before it.  ``errno`` is EFAULT.
    """

    def __init__(self, address, done, operation=""):
        super().__init__(_errno.EFAULT, "at 0x%x after %d bytes"
                         % (address, done), operation)
        self.address = address
        self.done = done

    def __reduce__(self):
        return (type(self), (self.address, self.done, self.operation))


class StaleError(Error):
    """The context's epoch has ended (or its holder was closed).

    Memory and Windows objects are valid only in the epoch they were made
    in; after MEMCTX_INVALIDATED they raise this instead of touching a
    context that no longer exists.  ``errno`` is ESTALE.
    """

    def __init__(self, message="the context's epoch has ended",
                 operation=""):
        super().__init__(_errno.ESTALE, message, operation)

    def __reduce__(self):
        return (type(self), (self.message, self.operation))


def check(r, operation, message=""):
    """Raise :class:`Error` for a negative return value; return r."""
    if r < 0:
        if r == -_errno.ESTALE:
            raise StaleError(message or "the epoch has ended", operation)
        raise Error(-r, message, operation)
    return r

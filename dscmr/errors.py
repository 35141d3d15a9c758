"""One way to fail: library code raises these, and only a command's `cli` wrapper turns them into
one line on stderr and an exit status (2 for bad input, 1 for a run that failed)."""
import errno
import functools
import sys

BAD_INPUT = 2
RUN_FAILED = 1


class InputError(Exception):
    """Bad input: a missing, unreadable or wrong-kind file, or a bad value. The message names the
    file (and line) or the value, and what to do."""

    def __init__(self, where, message, line=None):
        self.where = f"{where}:{line}" if line is not None else str(where)
        super().__init__(f"{self.where}: {message}")


class SkipItem(Exception):
    """One item of many (an image, a CSV row) cannot be used; builders list it in their skip report
    (a failure under --strict), au-predict reports it and goes on."""


class RunError(Exception):
    """A run that failed although its input was accepted (a crashed training, a failed build)."""


def cli(prog):
    """Decorates a command's main(argv) -> int: typed errors and unreadable files end with one line
    '<prog>: <message>' and their exit status, never a traceback."""
    def wrap(main):
        @functools.wraps(main)
        def run(argv=None):
            try:
                return main(argv)
            except InputError as e:
                return fail(prog, e, BAD_INPUT)
            except RunError as e:
                return fail(prog, e, RUN_FAILED)
            except OSError as e:
                if e.filename is None:
                    raise
                # a full disk is no fault of the input
                status = RUN_FAILED if e.errno in (errno.ENOSPC, errno.EDQUOT) else BAD_INPUT
                return fail(prog, f"{e.filename}: {e.strerror or e}", status)
            except KeyboardInterrupt:
                return fail(prog, "interrupted", 130)
        return run
    return wrap


def fail(prog, message, status):
    print(f"{prog}: {message}", file=sys.stderr)
    return status

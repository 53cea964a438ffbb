"""The `parallelrun` command of the pip package, and `python -m parallelrun`.

The command is the C++ program itself, shipped in the package
(parallelrun/_bin/parallelrun, built from the same app/main.cc as every
other install): this replaces the Python process with it (exec), so that
it is the process the terminal signals and the shell waits for — Ctrl-C,
a second Ctrl-C, SIGTERM from a scheduler and the exit codes (0, 1, 2, 3,
130) are exactly the command's, and no Python stays in between.
"""
import os
import sys


def binary():
    """The path of the parallelrun program inside this package."""
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "_bin", "parallelrun")


def main():
    path = binary()
    try:
        os.execv(path, ["parallelrun"] + sys.argv[1:])
    except OSError as exc:
        sys.stderr.write("parallelrun: error: cannot start %s: %s\n" % (path, exc.strerror))
        return 3


if __name__ == "__main__":
    sys.exit(main())

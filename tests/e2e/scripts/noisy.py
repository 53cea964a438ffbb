"""Test entry script: writes a lot to stdout and stderr from every level.

Per run() call: 5 MiB to stdout and 1.25 MiB to stderr through Python's
streams, marker lines from a child process (subprocess and os.system) and
from C level (os.write on fds 1 and 2). Four mini-batches make 20 MiB of
stdout and 5 MiB of stderr.
"""
import os
import subprocess
import sys

OUT_LINE = "O" * 1023 + "\n"   # 1 KiB
ERR_LINE = "E" * 1023 + "\n"


def run(mini_batch):
    for path in mini_batch:
        name = os.path.basename(path)
        sys.stdout.write(OUT_LINE * 5120)
        sys.stderr.write(ERR_LINE * 1280)
        print("PY-OUT %s" % name)
        print("PY-ERR %s" % name, file=sys.stderr)
        sys.stdout.flush()
        sys.stderr.flush()
        subprocess.run([sys.executable, "-c",
                        "import sys; print('CHILD-OUT %s'); print('CHILD-ERR %s', file=sys.stderr)"
                        % (name, name)], check=True)
        os.system("echo SYSTEM-OUT %s; echo SYSTEM-ERR %s >&2" % (name, name))
        os.write(1, ("C-OUT %s\n" % name).encode())
        os.write(2, ("C-ERR %s\n" % name).encode())
    return list(mini_batch)

#!/usr/bin/env python3
"""Writes parallelrun's man page from its own help text, so that the page
says what the built command does: `manpage.py PARALLELRUN OUT.1`.

The help (`parallelrun --help`: every subcommand with its options and
settings) becomes the page's DESCRIPTION, kept as it is laid out (.nf);
NAME, SYNOPSIS and EXIT STATUS are the ones the help's first and last
lines give.
"""
import subprocess
import sys


def roff(text):
    # A backslash is roff's escape; a line starting with . or ' is a request.
    lines = []
    for line in text.replace("\\", "\\e").splitlines():
        if line.startswith((".", "'")):
            line = "\\&" + line
        lines.append(line)
    return "\n".join(lines)


def main(argv):
    if len(argv) != 3:
        sys.stderr.write("usage: manpage.py PARALLELRUN OUT.1\n")
        return 2
    binary, out = argv[1], argv[2]
    help_text = subprocess.run([binary, "--help"], check=True, capture_output=True,
                               text=True).stdout
    version = subprocess.run([binary, "--version"], check=True, capture_output=True,
                             text=True).stdout.strip()
    summary = help_text.splitlines()[0].strip() if help_text else "parallelrun"
    page = "\n".join([
        '.TH PARALLELRUN 1 "" "%s" "User Commands"' % version,
        ".SH NAME",
        "parallelrun \\- run a Python entry script over a dataset in parallel",
        ".SH SYNOPSIS",
        ".B parallelrun",
        "run|validate|resume|jobs|report|tune [OPTIONS] ...",
        ".br",
        ".B parallelrun help",
        "[SUBCOMMAND]",
        ".SH DESCRIPTION",
        roff(summary),
        ".PP",
        "The options of every subcommand, as",
        ".B parallelrun --help",
        "prints them:",
        ".PP",
        ".nf",
        roff(help_text),
        ".fi",
        ".SH EXIT STATUS",
        "0 succeeded, 1 the job failed, 2 a usage or spec error (nothing ran), "
        "3 infrastructure, 130 interrupted.",
        ".SH SEE ALSO",
        "The README of parallelrun: the Python package (pip install), clusters, the job dir's layout.",
        "",
    ])
    with open(out, "w", encoding="utf-8") as f:
        f.write(page)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

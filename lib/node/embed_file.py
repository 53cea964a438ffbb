"""Build step: embeds a text file into a C++ source as a string constant.

    embed_file.py INPUT OUTPUT SYMBOL

Writes `extern const char SYMBOL[] = "...";` and `extern const unsigned long
SYMBOL_size`, so that the worker driver ships inside the binary.
"""
import sys


def main(src, dst, symbol):
    data = open(src, "rb").read()
    lines = []
    for i in range(0, len(data), 64):
        chunk = data[i:i + 64]
        lines.append('"' + "".join("\\x%02x" % b for b in chunk) + '"')
    out = ("// Generated from %s by embed_file.py; do not edit.\n"
           "namespace parallelrun {\n"
           "extern const char %s[];\n"
           "extern const unsigned long %s_size;\n"
           "const char %s[] =\n%s;\n"
           "const unsigned long %s_size = %d;\n"
           "}  // namespace parallelrun\n") % (
               src.rsplit("/", 1)[-1], symbol, symbol, symbol,
               "\n".join(lines) if lines else '""', symbol, len(data))
    with open(dst, "w") as f:
        f.write(out)


if __name__ == "__main__":
    main(*sys.argv[1:4])

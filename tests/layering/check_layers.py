#!/usr/bin/env python3
"""Checks that lib/'s includes follow its layers (lib/README.md).

Every file under lib/<folder>/ may include files of its own folder and of the
folders below it in LAYERS, never above; and the include graph between files
has no cycle. Usage: check_layers.py LIB_DIR. Exit 0 when both hold, else 1
with one line per upward include ("lib/base/wire.h:12: base includes
master/master.h, a layer above it") and one per cycle.
"""
import os
import re
import sys

# Bottom to top. A folder may include itself and anything before it.
LAYERS = ["base", "data", "plan", "link", "report", "master", "node", "job"]
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')


def scan(lib):
    """Returns {file: [(line, included file)]} for lib's own includes."""
    graph = {}
    for folder in sorted(os.listdir(lib)):
        path = os.path.join(lib, folder)
        if not os.path.isdir(path):
            continue
        for name in sorted(os.listdir(path)):
            if not name.endswith((".h", ".cc")):
                continue
            rel = f"{folder}/{name}"
            edges = []
            with open(os.path.join(path, name), encoding="utf-8") as f:
                for number, line in enumerate(f, 1):
                    m = INCLUDE.match(line)
                    if m and not m.group(1).startswith("parallelrun/"):
                        edges.append((number, m.group(1)))
            graph[rel] = edges
    return graph


def check(lib):
    problems = []
    graph = scan(lib)
    for name in graph:
        folder = name.split("/")[0]
        if folder not in LAYERS:
            problems.append(f"lib/{name}: folder '{folder}' is not in the layer list "
                            f"of {os.path.basename(__file__)}")
    for name, edges in graph.items():
        folder = name.split("/")[0]
        if folder not in LAYERS:
            continue
        for line, target in edges:
            if "/" not in target:
                problems.append(f"lib/{name}:{line}: include \"{target}\" without its folder")
                continue
            if target not in graph:
                problems.append(f"lib/{name}:{line}: includes {target}, which is not in lib/")
                continue
            other = target.split("/")[0]
            if other in LAYERS and LAYERS.index(other) > LAYERS.index(folder):
                problems.append(f"lib/{name}:{line}: {folder} includes {target}, "
                                f"a layer above it ({' < '.join(LAYERS)})")
    # Cycles between modules: x.h and x.cc are one module, so that
    # "a.cc includes b.h, b.h includes a.h" is the cycle it is.
    modules = {}
    for name, edges in graph.items():
        here = os.path.splitext(name)[0]
        targets = modules.setdefault(here, set())
        for _, target in edges:
            there = os.path.splitext(target)[0]
            if target in graph and there != here:
                targets.add(there)
    state = {}
    stack = []

    def visit(node):
        state[node] = 1
        stack.append(node)
        for target in sorted(modules[node]):
            if state.get(target) == 1:
                cycle = stack[stack.index(target):] + [target]
                problems.append("include cycle: " + " -> ".join(cycle))
            elif target not in state:
                visit(target)
        stack.pop()
        state[node] = 2

    for node in sorted(modules):
        if node not in state:
            visit(node)
    return problems


def main():
    lib = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(__file__), "..", "..", "lib")
    problems = check(lib)
    for p in problems:
        print(p)
    if problems:
        print(f"layering: {len(problems)} problem(s)")
        return 1
    print(f"layering: {len(scan(lib))} files, every include points down the layers, no cycle")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Lists the test cases of e2e test modules, one `module.Class.test_name` a
line, so that tests/CMakeLists.txt registers each case as its own CTest test
(run by run_case.py): a skipped case then shows as skipped, by name, instead
of hiding inside a passing module.

    discover_cases.py MODULE.py...   prints the cases of these modules
    discover_cases.py --check MODULE.py...
                                     imports the modules and fails unless
                                     unittest's own loader finds the same cases

The listing reads the modules' syntax trees rather than importing them: it
runs at configure time, where importing a test module (pandas, helpers that
look for the built binary) would be slow or fail. It follows what unittest's
loader does: every top-level class that derives, directly or through other
classes of these modules, from unittest.TestCase contributes its methods named
test* (its own and inherited ones). Bases are resolved through
`from module import Name` and `import module` of sibling modules. A module
that cannot be parsed, or that defines load_tests() (which decides its cases
at run time), is listed by its name alone, and run_case.py runs it whole.
--check is the CTest test that proves the listing matches unittest's.
"""
import ast
import os
import sys


class Module:
    def __init__(self, name, path):
        self.name = name
        self.classes = {}     # name → (base expressions, test method names)
        self.order = []       # class names in source order
        self.from_names = {}  # local name → (module, name) for `from module import name`
        self.modules = {}     # local name → module for `import module`
        self.whole = False    # list the module by its name alone
        try:
            with open(path, "rb") as f:
                tree = ast.parse(f.read(), filename=path)
        except (OSError, SyntaxError, ValueError):
            self.whole = True  # run_case.py imports it and reports the error as a failure
            return
        for node in tree.body:
            if isinstance(node, ast.ClassDef):
                tests = [n.name for n in node.body
                         if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
                         and n.name.startswith("test")]
                self.classes[node.name] = (node.bases, tests)
                self.order.append(node.name)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                for alias in node.names:
                    self.from_names[alias.asname or alias.name] = (node.module, alias.name)
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.asname:
                        self.modules[alias.asname] = alias.name
                    else:
                        self.modules[alias.name.split(".")[0]] = alias.name.split(".")[0]
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == "load_tests":
                self.whole = True


class Finder:
    def __init__(self, folder):
        self.folder = folder
        self.modules = {}

    def module(self, name):
        """The parsed sibling module `name`, or None if there is no such file."""
        if name not in self.modules:
            path = os.path.join(self.folder, name + ".py")
            self.modules[name] = Module(name, path) if os.path.isfile(path) else None
        return self.modules[name]

    def resolve(self, module, expr):
        """The (module, class) a base-class expression names, or None."""
        if isinstance(expr, ast.Name):
            if expr.id in module.classes:
                return (module.name, expr.id)
            return module.from_names.get(expr.id)
        if isinstance(expr, ast.Attribute) and isinstance(expr.value, ast.Name):
            target = module.modules.get(expr.value.id)
            if target:
                return (target, expr.attr)
        return None

    def test_names(self, ref, seen=()):
        """The test method names of class `ref` = (module, class), own and
        inherited, or None when it is not a unittest.TestCase."""
        if ref == ("unittest", "TestCase"):
            return set()
        if ref in seen:
            return None
        module = self.module(ref[0])
        if module is None:
            return None
        if ref[1] not in module.classes:  # imported into ref[0] from elsewhere
            origin = module.from_names.get(ref[1])
            return self.test_names(origin, seen + (ref,)) if origin else None
        bases, tests = module.classes[ref[1]]
        names, is_case = set(tests), False
        for base in bases:
            base_ref = self.resolve(module, base)
            inherited = self.test_names(base_ref, seen + (ref,)) if base_ref else None
            if inherited is not None:
                is_case = True
                names |= inherited
        return names if is_case else None

    def cases(self, name):
        module = self.module(name)
        if module is None or module.whole:
            return [name]
        out = []
        for cls in module.order:
            tests = self.test_names((name, cls))
            out.extend("%s.%s.%s" % (name, cls, t) for t in sorted(tests or ()))
        return out or [name]  # no case at all: run_case.py says so and fails


def module_names(paths):
    return [os.path.splitext(os.path.basename(p))[0] for p in paths]


def check(paths):
    """Compares the listing with the ids unittest's loader gives."""
    import unittest
    sys.path.insert(0, os.path.dirname(os.path.abspath(paths[0])))
    finder = Finder(os.path.dirname(os.path.abspath(paths[0])))
    listed, loaded = set(), set()

    def flatten(suite):
        for test in suite:
            if isinstance(test, unittest.TestSuite):
                yield from flatten(test)
            else:
                yield test

    for name in module_names(paths):
        listed.update(finder.cases(name))
        module = __import__(name)
        loaded.update(t.id() for t in flatten(unittest.defaultTestLoader.loadTestsFromModule(module)))
    if listed != loaded:
        for case in sorted(listed - loaded):
            print("listed but not found by unittest: %s" % case)
        for case in sorted(loaded - listed):
            print("found by unittest but not listed: %s" % case)
        return 1
    print("%d cases; the listing matches unittest's loader" % len(listed))
    return 0


def main(argv):
    if len(argv) >= 3 and argv[1] == "--check":
        return check(argv[2:])
    if len(argv) < 2 or argv[1].startswith("-"):
        sys.stderr.write("usage: discover_cases.py [--check] MODULE.py...\n")
        return 2
    finder = Finder(os.path.dirname(os.path.abspath(argv[1])))
    for name in module_names(argv[1:]):
        for case in finder.cases(name):
            print(case)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

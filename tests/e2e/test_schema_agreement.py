"""The JSON schemas in schemas/ and the C++ spec parser accept the same specs.

For every document in tests/data/specs/valid and tests/data/specs/invalid, the
schemas (checked with the `jsonschema` package) and the parser (the test-only
`spec_check` binary, path in $SPEC_CHECK) must both accept or both reject it.
tests/data/specs/semantic holds what only the parser can check (files that must
exist, names that must refer to declared ports, the args template language):
there the schemas accept and the parser rejects.

A document is accepted by "the schemas" when either schema accepts it; each
fixes `type`, so at most one can.
"""

import json
import os
import pathlib
import subprocess
import unittest

try:
    import jsonschema
    import yaml
except ImportError as error:  # Debian: python3-jsonschema, python3-yaml
    jsonschema = None
    IMPORT_ERROR = str(error)

SOURCE_DIR = pathlib.Path(
    os.environ.get("PARALLELRUN_SOURCE_DIR", pathlib.Path(__file__).resolve().parents[2]))
SPECS_DIR = SOURCE_DIR / "tests" / "data" / "specs"
SCHEMA_FILES = [
    SOURCE_DIR / "schemas" / "parallel_component.schema.json",
    SOURCE_DIR / "schemas" / "parallel_v2.schema.json",
]


def _spec_loader():
    """A YAML loader that reads documents the way the parser does.

    PyYAML would turn `2021-01-01` into a date (not a JSON type) and silently
    keep the last of two equal keys; the parser reads every scalar as text and
    rejects duplicate keys.
    """

    class SpecLoader(yaml.SafeLoader):
        pass

    SpecLoader.yaml_implicit_resolvers = {
        first: [(tag, regexp) for tag, regexp in resolvers
                if tag != "tag:yaml.org,2002:timestamp"]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }

    def construct_mapping(loader, node):
        loader.flatten_mapping(node)
        seen = set()
        for key_node, _ in node.value:
            key = loader.construct_object(key_node, deep=True)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, "duplicate key %r" % (key,), key_node.start_mark)
            seen.add(key)
        return loader.construct_mapping(node, deep=True)

    SpecLoader.add_constructor(
        yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, construct_mapping)
    return SpecLoader


class SchemaAgreementTest(unittest.TestCase):

    def setUp(self):
        if jsonschema is None:
            self.skipTest("SKIPPED: the jsonschema/yaml Python packages are not importable "
                          "(%s); install python3-jsonschema and python3-yaml" % IMPORT_ERROR)
        self.spec_check = os.environ.get("SPEC_CHECK")
        if not self.spec_check or not os.access(self.spec_check, os.X_OK):
            self.skipTest("SKIPPED: $SPEC_CHECK does not name the built spec_check binary; "
                          "run this test through ctest")
        self.loader = _spec_loader()
        self.validators = []
        for path in SCHEMA_FILES:
            schema = json.loads(path.read_text())
            jsonschema.Draft202012Validator.check_schema(schema)
            self.validators.append(jsonschema.Draft202012Validator(schema))

    def schema_verdict(self, path):
        """(accepted, why not) according to the schemas."""
        try:
            documents = list(yaml.load_all(path.read_text(), Loader=self.loader))
        except yaml.YAMLError as error:
            return False, "YAML: %s" % error
        if len(documents) != 1:
            return False, "%d YAML documents" % len(documents)
        document = documents[0]
        if any(v.is_valid(document) for v in self.validators):
            return True, ""
        reasons = [jsonschema.exceptions.best_match(v.iter_errors(document)).message
                   for v in self.validators]
        return False, " / ".join(reasons)

    def parser_verdict(self, path):
        """(accepted, message) according to the C++ parser."""
        result = subprocess.run([self.spec_check, str(path)], capture_output=True,
                                timeout=60)
        output = result.stdout.decode(errors="replace").strip()
        self.assertIn(result.returncode, (0, 2),
                      "spec_check crashed on %s: %s %s" % (path, output, result.stderr))
        return result.returncode == 0, output

    def documents(self, folder, at_least):
        paths = sorted((SPECS_DIR / folder).glob("*.yaml"))
        self.assertGreaterEqual(len(paths), at_least,
                                "too few documents in %s" % (SPECS_DIR / folder))
        return paths

    def test_valid_documents_are_accepted_by_both(self):
        for path in self.documents("valid", 12):
            with self.subTest(spec=path.name):
                schema_ok, schema_why = self.schema_verdict(path)
                parser_ok, parser_says = self.parser_verdict(path)
                self.assertTrue(schema_ok, "schema rejects %s: %s" % (path.name, schema_why))
                self.assertTrue(parser_ok, "parser rejects %s: %s" % (path.name, parser_says))

    def test_invalid_documents_are_rejected_by_both(self):
        for path in self.documents("invalid", 20):
            with self.subTest(spec=path.name):
                schema_ok, _ = self.schema_verdict(path)
                parser_ok, parser_says = self.parser_verdict(path)
                self.assertFalse(schema_ok, "schema accepts %s" % path.name)
                self.assertFalse(parser_ok, "parser accepts %s" % path.name)
                # The parser's errors point into the file.
                self.assertRegex(parser_says, r"^%s:\d+:\d+: " % path)

    def test_semantic_errors_are_only_the_parsers(self):
        for path in self.documents("semantic", 5):
            with self.subTest(spec=path.name):
                schema_ok, schema_why = self.schema_verdict(path)
                parser_ok, _ = self.parser_verdict(path)
                self.assertTrue(schema_ok, "schema rejects %s (move it to invalid/?): %s"
                                % (path.name, schema_why))
                self.assertFalse(parser_ok, "parser accepts %s" % path.name)


if __name__ == "__main__":
    unittest.main()

// Tests of lib/spec_args.cc: args templates → argv words, in both formats.
#include <map>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "parallelrun/spec.h"

namespace parallelrun {
namespace {

using Argv = std::vector<std::string>;
using Values = std::map<std::string, std::string>;

const std::string kSpecs = std::string(PARALLELRUN_TEST_DATA) + "/specs";

Port MakePort(const std::string& name, bool is_data) {
  Port p;
  p.name = name;
  p.is_data = is_data;
  return p;
}

// A spec with data inputs `data` and `model`, parameters `count`, `name` and
// `opt`, and the output `out`; its args are at spec.yaml:7:9.
Spec MakeSpec(SpecFormat format, const std::string& args) {
  Spec spec;
  spec.path = "spec.yaml";
  spec.format = format;
  spec.inputs = {MakePort("data", true), MakePort("model", true), MakePort("count", false),
                 MakePort("name", false), MakePort("opt", false)};
  spec.outputs = {MakePort("out", true)};
  spec.args_template = args;
  spec.args_where = SourceLocation{"spec.yaml", 7, 9};
  return spec;
}

Argv Resolve(SpecFormat format, const std::string& args, const Values& values) {
  Result<Argv> words = ResolveArgs(MakeSpec(format, args), values);
  INFO(words.status().message());
  REQUIRE(words.ok());
  return *words;
}

Argv Component(const std::string& args, const Values& values = {}) {
  return Resolve(SpecFormat::kParallelComponent, args, values);
}

Argv V2(const std::string& args, const Values& values = {}) {
  return Resolve(SpecFormat::kV2Parallel, args, values);
}

std::string Error(SpecFormat format, const std::string& args, const Values& values = {}) {
  Result<Argv> words = ResolveArgs(MakeSpec(format, args), values);
  REQUIRE_FALSE(words.ok());
  CHECK(words.status().code() == Status::Code::kUsage);
  return words.status().message();
}

std::string ComponentError(const std::string& args, const Values& values = {}) {
  return Error(SpecFormat::kParallelComponent, args, values);
}

std::string V2Error(const std::string& args, const Values& values = {}) {
  return Error(SpecFormat::kV2Parallel, args, values);
}

// ---- substitution -------------------------------------------------------------

TEST_CASE("placeholders become their values", "[spec_args]") {
  CHECK(Component("--model {inputs.model} --out {outputs.out} -n {inputs.count}",
                  {{"model", "/m"}, {"out", "/o"}, {"count", "5"}}) ==
        Argv{"--model", "/m", "--out", "/o", "-n", "5"});
  CHECK(V2("--model ${{inputs.model}} --out ${{ outputs.out }}", {{"model", "/m"}, {"out", "/o"}}) ==
        Argv{"--model", "/m", "--out", "/o"});
  CHECK(Component("").empty());
  CHECK(Component(" \n\t ").empty());
  CHECK(Component("--plain words") == Argv{"--plain", "words"});
}

TEST_CASE("a value stays one word whatever it holds", "[spec_args]") {
  const std::vector<std::string> values = {
      "two words",      "line one\nline two", "it's \"quoted\"", "\xff\xfe not UTF-8 \x80",
      "$HOME *.png ~",  "back\\slash",        "tab\there",       "[x] {y}",
      "",
  };
  for (const std::string& v : values) {
    INFO(v);
    CHECK(Component("--x {inputs.name}", {{"name", v}}) == Argv{"--x", v});
    CHECK(Component("--x \"{inputs.name}\"", {{"name", v}}) == Argv{"--x", v});
    CHECK(Component("--x '{inputs.name}'", {{"name", v}}) == Argv{"--x", v});
    CHECK(V2("--x ${{inputs.name}}", {{"name", v}}) == Argv{"--x", v});
  }
}

TEST_CASE("placeholders embedded in words", "[spec_args]") {
  const Values values = {{"data", "/in put"}, {"name", "a b"}, {"out", "/o"}};
  CHECK(Component("--a={inputs.name}", values) == Argv{"--a=a b"});
  CHECK(Component("{inputs.data}/data.csv", values) == Argv{"/in put/data.csv"});
  CHECK(Component("pre{inputs.name}post", values) == Argv{"prea bpost"});
  CHECK(Component("{inputs.data}:{inputs.name}", values) == Argv{"/in put:a b"});
  CHECK(Component("foo.bar={inputs.name} x", values) == Argv{"foo.bar=a b", "x"});
  CHECK(Component("--out \"{outputs.out}/result file.txt\"", values) ==
        Argv{"--out", "/o/result file.txt"});
  CHECK(V2("--a=${{inputs.name}} ${{inputs.data}}/x", values) == Argv{"--a=a b", "/in put/x"});
  // A backslash right before a placeholder escapes nothing and stays.
  CHECK(Component("\\{inputs.name}", values) == Argv{"\\a b"});
}

// ---- optional groups ----------------------------------------------------------

TEST_CASE("ParallelComponent optional groups vanish without their values", "[spec_args]") {
  const std::string args = "--data {inputs.data} [--count {inputs.count}] [--opt={inputs.opt}]";
  CHECK(Component(args, {{"data", "/d"}}) == Argv{"--data", "/d"});
  CHECK(Component(args, {{"data", "/d"}, {"count", "5"}}) == Argv{"--data", "/d", "--count", "5"});
  CHECK(Component(args, {{"data", "/d"}, {"opt", "x y"}}) == Argv{"--data", "/d", "--opt=x y"});
  // One missing placeholder drops the whole group.
  const std::string pair = "[--pair {inputs.count} {inputs.name}] end";
  CHECK(Component(pair, {{"count", "1"}}) == Argv{"end"});
  CHECK(Component(pair, {{"count", "1"}, {"name", "n"}}) == Argv{"--pair", "1", "n", "end"});
  // Groups inside a word, quotes inside a group, a group without placeholders.
  CHECK(Component("--flag[={inputs.opt}]") == Argv{"--flag"});
  CHECK(Component("--flag[={inputs.opt}]", {{"opt", "v"}}) == Argv{"--flag=v"});
  CHECK(Component("a[{inputs.opt}]b") == Argv{"ab"});
  CHECK(Component("[--name \"{inputs.name} and more\"]", {{"name", "x"}}) ==
        Argv{"--name", "x and more"});
  CHECK(Component("[--name \"{inputs.name} and more\"] z") == Argv{"z"});
  CHECK(Component("[--verbose]") == Argv{"--verbose"});
  CHECK(Component("[\n  --count\n  {inputs.count}\n]") == Argv{});
}

TEST_CASE("v2 optional groups vanish without their values", "[spec_args]") {
  const std::string args = "$[[--resume_from ${{inputs.model}}]] --out ${{outputs.out}}";
  CHECK(V2(args, {{"out", "/o"}}) == Argv{"--out", "/o"});
  CHECK(V2(args, {{"out", "/o"}, {"model", "/m"}}) == Argv{"--resume_from", "/m", "--out", "/o"});
  CHECK(V2("--flag$[[=${{inputs.opt}}]]") == Argv{"--flag"});
  CHECK(V2("$[[--a ${{inputs.opt}} --b ${{inputs.count}}]]", {{"opt", "1"}}) == Argv{});
}

// ---- literal brackets and shell rules -------------------------------------------

TEST_CASE("doubled brackets and braces are literal in ParallelComponent args", "[spec_args]") {
  CHECK(Component("--pattern '[[0-9]]*.png'") == Argv{"--pattern", "[0-9]*.png"});
  CHECK(Component("--json '{{\"color\": \"{inputs.name}\"}}'", {{"name", "red"}}) ==
        Argv{"--json", "{\"color\": \"red\"}"});
  CHECK(Component("{{inputs.name}}") == Argv{"{inputs.name}"});
  CHECK(Component("[[--not-optional {inputs.name}]]", {{"name", "n"}}) ==
        Argv{"[--not-optional", "n]"});
}

TEST_CASE("brackets and braces are ordinary in v2 program_arguments", "[spec_args]") {
  CHECK(V2("--pattern [0-9]*.png {x} ]] $x ${y}") ==
        Argv{"--pattern", "[0-9]*.png", "{x}", "]]", "$x", "${y}"});
}

TEST_CASE("the template is split with POSIX shell rules", "[spec_args]") {
  CHECK(Component("'single $x \\n \"q\"'") == Argv{"single $x \\n \"q\""});
  CHECK(Component(R"("a \"b\" \\ \$ \` \x")") == Argv{R"(a "b" \ $ ` \x)"});
  CHECK(Component(R"(a\ b c\'d)") == Argv{"a b", "c'd"});
  CHECK(Component("'' \"\" x") == Argv{"", "", "x"});
  CHECK(Component("a'b'\"c\"d") == Argv{"abcd"});
  CHECK(Component("a\tb\nc\r\nd   e") == Argv{"a", "b", "c", "d", "e"});
  CHECK(Component("line\\\ncontinued \"in\\\nquotes\"") == Argv{"linecontinued", "inquotes"});
  CHECK(Component("\"multi\nline\" 'and\nthis'") == Argv{"multi\nline", "and\nthis"});
  CHECK(Component("a #not-a-comment") == Argv{"a", "#not-a-comment"});
}

// ---- through the parser -------------------------------------------------------

TEST_CASE("args of parsed specs, folded with >- or literal with |", "[spec_args]") {
  // Anchored in tests/data/specs/valid, where score.py exists.
  const std::string path = kSpecs + "/valid/args_test.yaml";
  const std::string head =
      "type: ParallelComponent\nname: x\nversion: 1\n"
      "inputs: {data: {type: path}, model: {type: path}, n: {type: Integer, optional: true}}\n"
      "outputs: {out: {type: path}}\n"
      "parallel:\n  input_data: data\n  output_data: out\n  entry: score.py\n";
  Result<Spec> folded = ParseSpecText(head +
                                          "  args: >-\n"
                                          "    --model {inputs.model}\n"
                                          "    [--n {inputs.n}]\n"
                                          "    --out \"{outputs.out}/result file.txt\"\n",
                                      path);
  REQUIRE(folded.ok());
  CHECK(folded->args_where.line == 10);
  Result<Argv> words = ResolveArgs(*folded, {{"model", "/m m"}, {"out", "/o"}});
  REQUIRE(words.ok());
  CHECK(*words == Argv{"--model", "/m m", "--out", "/o/result file.txt"});

  Result<Spec> literal = ParseSpecText(head +
                                           "  args: |\n"
                                           "    --model {inputs.model} \\\n"
                                           "    --n {inputs.n}\n",
                                       path);
  REQUIRE(literal.ok());
  words = ResolveArgs(*literal, {{"model", "/m"}, {"n", "3"}});
  REQUIRE(words.ok());
  CHECK(*words == Argv{"--model", "/m", "--n", "3"});

  Result<Spec> all = ParseSpecFile(kSpecs + "/valid/cs_all_keys.yaml");
  REQUIRE(all.ok());
  words = ResolveArgs(*all, {{"images", "/img"},
                             {"threshold", "0.5"},
                             {"color", "red"},
                             {"verbose", "false"},
                             {"label", "hello world"},
                             {"scored", "/s"},
                             {"linked", "/l"}});
  REQUIRE(words.ok());
  CHECK(*words == Argv{"--threshold", "0.5", "--pattern", "[0-9]*.png", "--json",
                       "{\"color\": \"red\"}", "--verbose", "false", "--label", "hello world",
                       "--out", "/s/result.txt", "--linked", "/l"});

  Result<Spec> v2 = ParseSpecFile(kSpecs + "/valid/v2_component_all_keys.yaml");
  REQUIRE(v2.ok());
  words = ResolveArgs(*v2, {{"model", "/m"}, {"limit", "10"}, {"colour", "red"},
                            {"dry_run", "false"}, {"scores", "/s"}});
  REQUIRE(words.ok());
  CHECK(*words == Argv{"--model", "/m", "--limit", "10", "--colour", "red", "--dry_run", "false",
                       "--out", "/s"});
}

// ---- errors -------------------------------------------------------------------

TEST_CASE("a placeholder outside a group without a value names the port", "[spec_args]") {
  CHECK(ComponentError("--model {inputs.model}") ==
        "args use {inputs.model}, which has no value; give it with -i model=PATH");
  CHECK(ComponentError("-n {inputs.count}") ==
        "args use {inputs.count}, which has no value; give it with -i count=VALUE");
  CHECK(ComponentError("--out {outputs.out}") ==
        "args use {outputs.out}, which has no value; give it with -o out=PATH");
  CHECK(V2Error("--model ${{ inputs.model }}") ==
        "program_arguments use ${{ inputs.model }}, which has no value; give it with -i "
        "model=PATH");
}

TEST_CASE("malformed templates are errors at the args location", "[spec_args]") {
  const std::string at = "spec.yaml:7:9: ";
  CHECK(ComponentError("[--count {inputs.count}") ==
        at + "args has an optional group [ that is never closed; write [[ for a literal [");
  CHECK(ComponentError("--count]") ==
        at + "args has ']' without a matching '['; write ]] for a literal ]");
  CHECK(ComponentError("--json {\"a\": 1") ==
        at + "args has '{' without a matching '}'; write {{ for a literal {");
  CHECK(ComponentError("--json }") ==
        at + "args has '}' without a matching '{'; write }} for a literal }");
  CHECK(ComponentError("--json {\"a\": 1}") ==
        at + "args has {\"a\": 1}, which is not a placeholder {inputs.NAME} or "
             "{outputs.NAME}; write {{ and }} for literal braces");
  CHECK(ComponentError("[--a [--b {inputs.opt}]]") ==
        at + "args nests optional groups ([ inside [), which is not supported");
  CHECK(ComponentError("--name 'it") == at + "args has an unterminated ' quote");
  CHECK(ComponentError("--name \"it") == at + "args has an unterminated \" quote");
  CHECK(ComponentError("--name it\\") == at + "args ends with a backslash that escapes nothing");
  CHECK(ComponentError("[--a \"{inputs.opt}]\"") ==
        at + "args has an optional group that starts and ends in different quoting; open and "
             "close quotes inside the group");
  CHECK(ComponentError("--a {inputs.nope}", {{"nope", "x"}}) ==
        at + "args refers to {inputs.nope}, which is not an input");
  CHECK(ComponentError("--a {outputs.data}", {{"data", "x"}}) ==
        at + "args refers to {outputs.data}, which is not an output");

  CHECK(V2Error("--a ${{inputs.opt}") ==
        at + "program_arguments has '${{' without a matching '}}'");
  CHECK(V2Error("$[[--a ${{inputs.opt}}") ==
        at + "program_arguments has an optional group $[[ that is never closed");
  CHECK(V2Error("$[[--a $[[--b]] ]]") ==
        at + "program_arguments nests optional groups ($[[ inside $[[), which is not supported");
  CHECK(V2Error("--run ${{name}}") ==
        at + "program_arguments has ${{name}}, which is not ${{inputs.NAME}} or "
             "${{outputs.NAME}}");
  CHECK(V2Error("--a \"b") == at + "program_arguments has an unterminated \" quote");

  // Without a known place (a spec built in code) the message stands alone.
  Spec spec = MakeSpec(SpecFormat::kParallelComponent, "--name 'it");
  spec.args_where = SourceLocation{};
  Result<Argv> words = ResolveArgs(spec, {});
  REQUIRE_FALSE(words.ok());
  CHECK(words.status().message() == "args has an unterminated ' quote");
}

TEST_CASE("ScanArgsTemplate lists the placeholders", "[spec_args]") {
  Result<std::vector<ArgsPlaceholder>> found = ScanArgsTemplate(
      "--a {inputs.x} [--b={outputs.y}] {{inputs.z}}", SpecFormat::kParallelComponent, "args");
  REQUIRE(found.ok());
  REQUIRE(found->size() == 2);
  CHECK((*found)[0].name == "x");
  CHECK_FALSE((*found)[0].is_output);
  CHECK((*found)[0].written == "{inputs.x}");
  CHECK_FALSE((*found)[0].in_optional_group);
  CHECK((*found)[1].name == "y");
  CHECK((*found)[1].is_output);
  CHECK((*found)[1].in_optional_group);

  found = ScanArgsTemplate("$[[--r ${{ inputs.r }}]]", SpecFormat::kV2Parallel,
                           "program_arguments");
  REQUIRE(found.ok());
  REQUIRE(found->size() == 1);
  CHECK((*found)[0].written == "${{ inputs.r }}");
  CHECK((*found)[0].in_optional_group);

  found = ScanArgsTemplate("'x", SpecFormat::kV2Parallel, "program_arguments");
  REQUIRE_FALSE(found.ok());
  CHECK(found.status().message() == "program_arguments has an unterminated ' quote");
}

}  // namespace
}  // namespace parallelrun

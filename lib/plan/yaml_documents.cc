#include "plan/yaml_documents.h"

#include <sstream>

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/mark.h>
#include <yaml-cpp/parser.h>

namespace parallelrun {

namespace {

// Sees where each document starts, and nothing else: the parse that finds
// out whether LoadAll would stop.
class DocumentStarts : public YAML::EventHandler {
 public:
  void OnDocumentStart(const YAML::Mark& mark) override { last = mark; }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}

  YAML::Mark last = YAML::Mark::null_mark();
};

}  // namespace

std::vector<YAML::Node> LoadYamlDocuments(const std::string& text) {
  {
    std::istringstream in(text);
    YAML::Parser parser(in);
    DocumentStarts starts;
    int previous = -1;
    // Each real document consumes at least one token, so it starts past
    // the one before; a parser that stays put would never stop.
    for (size_t documents = 0; parser.HandleNextDocument(starts); documents++) {
      if (starts.last.pos == previous || documents > text.size() + 1) {
        std::string what = starts.last.pos >= 0 && static_cast<size_t>(starts.last.pos) < text.size()
                               ? "'" + text.substr(static_cast<size_t>(starts.last.pos), 1) + "'"
                               : std::string("this");
        throw YAML::ParserException(starts.last, what + " is not where a YAML value can start");
      }
      previous = starts.last.pos;
    }
  }
  return YAML::LoadAll(text);
}

}  // namespace parallelrun

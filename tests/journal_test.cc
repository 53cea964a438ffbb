#include "master/journal.h"

#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "base/crc32c.h"
#include "temp_dir.h"

namespace parallelrun {
namespace {

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteAllTo(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << data;
}

MiniBatch Batch(MiniBatchId id) {
  MiniBatch b;
  b.id = id;
  b.input = 1;
  b.kind = MiniBatchKind::kFilePartition;
  b.items = {"a/b.png", std::string("new\nline\xff", 10), ""};
  b.partition = {{"country", "FR"}, {"year", "2026"}};
  b.known_rows = 42;
  return b;
}

AttemptResult Attempt(MiniBatchId id, uint32_t attempt) {
  AttemptResult r;
  r.id = id;
  r.attempt = attempt;
  r.status = AttemptStatus::kRunException;
  r.total = 3;
  r.succeeded = 1;
  r.returned = 1;
  r.start_time = 1.7e9 + 0.25;
  r.elapsed_seconds = 0.5;
  r.process_seconds = 0.25;
  r.run_seconds = 0.125;
  r.node = 2;
  r.process = "process003";
  r.error_category = "ValueError";
  r.error_message = "bad item";
  r.traceback = "Traceback (most recent call last):\n  ...";
  return r;
}

std::vector<JournalRecord> Sample() {
  JournalRunStarted run;
  run.run = 2;
  run.start_time = 1.7e9;
  run.host = "node-a";
  run.pid = 1234;
  run.request = R"({"spec":"c.yaml"})";
  run.fingerprints = R"({"spec":"abc"})";
  NodeReport node;
  node.node = 1;
  node.host = "node-b";
  node.processes.push_back(ProcessReport{"process000", 77, 1.0, 2.0, true, 0.5, "exit code 0"});
  return {run, Batch(0), Attempt(0, 1), JournalAccepted{0, 1, 12}, JournalInputListed{0, 1}, node,
          JournalRunEnded{1, "threshold"}};
}

std::vector<JournalRecord> ReadRecords(const std::string& path, JournalReadSummary* summary) {
  std::vector<JournalRecord> out;
  auto read = ReadJournal(path, [&](JournalRecord&& r) {
    out.push_back(std::move(r));
    return Status::Ok();
  });
  REQUIRE(read.ok());
  if (summary) *summary = *read;
  return out;
}

TEST_CASE("Journal: every record type round-trips through the file") {
  TempDir dir("journal_test");
  std::string path = dir.path() + "/journal";
  auto j = Journal::Open(path);
  REQUIRE(j.ok());
  for (const auto& r : Sample()) (*j)->Append(r);
  REQUIRE((*j)->Sync().ok());
  JournalReadSummary summary;
  auto records = ReadRecords(path, &summary);
  REQUIRE(records.size() == Sample().size());
  CHECK(summary.torn_tail.empty());
  CHECK(summary.valid_bytes == summary.file_bytes);
  for (size_t i = 0; i < records.size(); i++) {
    CHECK(EncodeJournalRecord(records[i]) == EncodeJournalRecord(Sample()[i]));
  }
  const auto& b = std::get<MiniBatch>(records[1]);
  CHECK(b.items[1] == std::string("new\nline\xff", 10));
  CHECK(b.partition[1].second == "2026");
  CHECK(std::get<AttemptResult>(records[2]).traceback == Attempt(0, 1).traceback);
  CHECK(std::get<NodeReport>(records[5]).processes[0].exit == "exit code 0");
}

TEST_CASE("Journal: nothing reaches the file before Commit, all of it after (group commit)") {
  TempDir dir("journal_test");
  std::string path = dir.path() + "/journal";
  auto j = Journal::Open(path);
  REQUIRE(j.ok());
  (*j)->Append(Batch(0));
  (*j)->Append(Batch(1));
  CHECK(ReadRecords(path, nullptr).empty());
  CHECK((*j)->buffered_bytes() > 0);
  REQUIRE((*j)->Commit().ok());
  CHECK((*j)->buffered_bytes() == 0);
  CHECK(ReadRecords(path, nullptr).size() == 2);
}

TEST_CASE("Journal: the commit hook sees each byte once, even when it commits again") {
  TempDir dir("journal_test");
  std::string path = dir.path() + "/journal";
  auto j = Journal::Open(path);
  REQUIRE(j.ok());
  Journal* journal = j->get();
  std::string copy = kJournalMagic;  // what a standby would hold
  int calls = 0;
  journal->SetCommitted([&](uint64_t offset, std::string_view bytes) {
    CHECK(offset == copy.size());
    copy.append(bytes);
    // The first time, the hook itself records and commits (as the master
    // does when it picks another standby from inside the hook).
    if (++calls == 1) {
      journal->Append(Batch(1));
      REQUIRE(journal->Commit().ok());
    }
  });
  journal->Append(Batch(0));
  REQUIRE(journal->Commit().ok());
  CHECK(calls == 2);
  auto records = ReadRecords(path, nullptr);
  REQUIRE(records.size() == 2);
  CHECK(std::get<MiniBatch>(records[0]).id == 0);
  CHECK(std::get<MiniBatch>(records[1]).id == 1);
  std::ifstream in(path, std::ios::binary);
  std::stringstream file;
  file << in.rdbuf();
  CHECK(copy == file.str());
  CHECK(journal->size() == file.str().size());
}

TEST_CASE("Journal: a tail cut at any byte is recovered, never misread") {
  TempDir dir("journal_test");
  std::string path = dir.path() + "/journal";
  {
    auto j = Journal::Open(path);
    REQUIRE(j.ok());
    for (const auto& r : Sample()) (*j)->Append(r);
    REQUIRE((*j)->Commit().ok());
  }
  const std::string whole = ReadAll(path);
  // Where each record ends, to know how many a cut keeps.
  std::vector<size_t> ends;
  size_t pos = kJournalHeaderBytes;
  for (const auto& r : Sample()) {
    pos += 8 + EncodeJournalRecord(r).size();
    ends.push_back(pos);
  }
  REQUIRE(ends.back() == whole.size());
  for (size_t cut = kJournalHeaderBytes; cut < whole.size(); cut++) {
    WriteAllTo(path, whole.substr(0, cut));
    JournalReadSummary summary;
    auto records = ReadRecords(path, &summary);
    size_t expected = 0;
    while (expected < ends.size() && ends[expected] <= cut) expected++;
    INFO("cut at byte " << cut);
    REQUIRE(records.size() == expected);
    for (size_t i = 0; i < records.size(); i++) {
      CHECK(EncodeJournalRecord(records[i]) == EncodeJournalRecord(Sample()[i]));
    }
    CHECK(summary.valid_bytes == (expected ? ends[expected - 1] : kJournalHeaderBytes));
    CHECK(summary.torn_tail.empty() == (cut == summary.valid_bytes));
  }
}

TEST_CASE("Journal: a random cut, then Open cuts the torn tail and appends after the last whole record") {
  TempDir dir("journal_test");
  std::string path = dir.path() + "/journal";
  std::mt19937 rng(7);
  for (int round = 0; round < 20; round++) {
    std::filesystem::remove(path);
    {
      auto j = Journal::Open(path);
      REQUIRE(j.ok());
      for (MiniBatchId id = 0; id < 50; id++) (*j)->Append(Attempt(id, 1));
      REQUIRE((*j)->Commit().ok());
    }
    std::string whole = ReadAll(path);
    size_t cut = kJournalHeaderBytes + rng() % (whole.size() - kJournalHeaderBytes);
    WriteAllTo(path, whole.substr(0, cut));
    size_t kept = ReadRecords(path, nullptr).size();
    JournalReadSummary existing;
    auto j = Journal::Open(path, &existing);
    REQUIRE(j.ok());
    CHECK(existing.records == kept);
    (*j)->Append(Attempt(999, 2));
    REQUIRE((*j)->Commit().ok());
    JournalReadSummary summary;
    auto records = ReadRecords(path, &summary);
    REQUIRE(records.size() == kept + 1);
    CHECK(summary.torn_tail.empty());
    for (size_t i = 0; i < kept; i++) CHECK(std::get<AttemptResult>(records[i]).id == i);
    CHECK(std::get<AttemptResult>(records.back()).id == 999);
  }
}

TEST_CASE("Journal: a flipped byte stops reading at its record with a checksum mismatch") {
  TempDir dir("journal_test");
  std::string path = dir.path() + "/journal";
  {
    auto j = Journal::Open(path);
    REQUIRE(j.ok());
    for (MiniBatchId id = 0; id < 3; id++) (*j)->Append(Batch(id));
    REQUIRE((*j)->Commit().ok());
  }
  std::string whole = ReadAll(path);
  size_t second = kJournalHeaderBytes + 8 + EncodeJournalRecord(Batch(0)).size();
  whole[second + 20] ^= 0x40;
  WriteAllTo(path, whole);
  JournalReadSummary summary;
  auto records = ReadRecords(path, &summary);
  CHECK(records.size() == 1);
  CHECK(summary.torn_tail == "record at byte " + std::to_string(second) + ": checksum mismatch");
}

TEST_CASE("Journal: a file that is not a journal is refused, an empty one is a fresh start") {
  TempDir dir("journal_test");
  std::string path = dir.path() + "/journal";
  WriteAllTo(path, "hello, world\n");
  auto read = ReadJournal(path, [](JournalRecord&&) { return Status::Ok(); });
  REQUIRE(!read.ok());
  CHECK(read.status().message() == path + ": not a parallelrun journal (its first bytes are not PRJNL001)");
  CHECK(!Journal::Open(path).ok());
  WriteAllTo(path, "");
  auto j = Journal::Open(path);
  REQUIRE(j.ok());
  (*j)->Append(Batch(5));
  REQUIRE((*j)->Commit().ok());
  CHECK(ReadRecords(path, nullptr).size() == 1);
}

TEST_CASE("Journal: a write that fails names the path and the reason, and sticks") {
  TempDir dir("journal_test");
  std::string path = dir.path() + "/journal";
  auto j = Journal::Open(path);
  REQUIRE(j.ok());
  // A file size limit makes the write fail as a full disk would (EFBIG
  // instead of ENOSPC), without a full disk.
  struct rlimit old;
  REQUIRE(getrlimit(RLIMIT_FSIZE, &old) == 0);
  auto old_handler = signal(SIGXFSZ, SIG_IGN);
  struct rlimit small = old;
  small.rlim_cur = 4096;
  REQUIRE(setrlimit(RLIMIT_FSIZE, &small) == 0);
  MiniBatch big = Batch(1);
  big.items.assign(100, std::string(100, 'x'));
  (*j)->Append(big);
  Status first = (*j)->Commit();
  setrlimit(RLIMIT_FSIZE, &old);
  signal(SIGXFSZ, old_handler);
  REQUIRE(!first.ok());
  CHECK(first.code() == Status::Code::kInfrastructure);
  CHECK(first.message() == "cannot write the job's journal " + path + ": File too large");
  (*j)->Append(Batch(2));
  CHECK((*j)->Commit().message() == first.message());
  // What reached the file is a torn tail, cut by the next Open.
  JournalReadSummary existing;
  REQUIRE(Journal::Open(path, &existing).ok());
  CHECK(existing.records == 0);
}

TEST_CASE("Journal: record decoding says why bytes are not a record") {
  JournalRecord r;
  std::string why;
  CHECK_FALSE(DecodeJournalRecord("", &r, &why));
  CHECK(why == "an empty record");
  CHECK_FALSE(DecodeJournalRecord(std::string(1, '\x09'), &r, &why));
  CHECK(why == "unknown record type 9");
  std::string body = EncodeJournalRecord(Batch(3));
  CHECK_FALSE(DecodeJournalRecord(body.substr(0, body.size() - 1), &r, &why));
  CHECK(why == "mini-batch: item at byte 91: payload ends after 3 of the 4 bytes of its length");
  CHECK_FALSE(DecodeJournalRecord(body + "x", &r, &why));
  CHECK(why == "mini-batch: 1 bytes left over after the last field (at byte 95)");
  std::string with_attempt = body;
  with_attempt[1 + 8] = 2;  // the codec's attempt field: never set in the journal
  CHECK_FALSE(DecodeJournalRecord(with_attempt, &r, &why));
  CHECK(why == "mini-batch: attempt at byte 8: 2 is not 0");
  for (size_t cut = 0; cut < body.size(); cut++) {
    CHECK_FALSE(DecodeJournalRecord(body.substr(0, cut), &r, &why));
    CHECK(!why.empty());
  }
}

TEST_CASE("Crc32c: the standard check value, the same with and without the processor's help") {
  CHECK(Crc32c("123456789") == 0xe3069283);
  CHECK(internal::Crc32cPortable("123456789") == 0xe3069283);
  std::string bytes;
  for (int i = 0; i < 1000; i++) bytes.push_back(static_cast<char>(i * 37 + (i >> 3)));
  for (size_t n : {0, 1, 7, 8, 9, 15, 16, 17, 999, 1000}) {
    CHECK(Crc32c(bytes.substr(0, n)) == internal::Crc32cPortable(bytes.substr(0, n)));
    CHECK(Crc32c(bytes.substr(n), Crc32c(bytes.substr(0, n))) == Crc32c(bytes));
  }
  CHECK(Crc32c("") == 0);
  CHECK(Crc32c("6789", Crc32c("12345")) == 0xe3069283);
}

}  // namespace
}  // namespace parallelrun

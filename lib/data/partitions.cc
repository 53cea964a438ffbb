#include "data/partitions.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <functional>
#include <optional>
#include <tuple>
#include "base/disk.h"

namespace parallelrun {
namespace {

// Translates a date-time pattern ("yyyy/MM/dd") into the shape the matcher
// uses ('#' = one digit, anything else literal) and its strptime form.
bool DateTimeShape(const std::string& pattern, std::string* shape, std::string* strptime) {
  static const struct {
    const char* token;
    const char* directive;
  } kFields[] = {{"yyyy", "%Y"}, {"MM", "%m"}, {"dd", "%d"},
                 {"HH", "%H"},   {"mm", "%M"}, {"ss", "%S"}};
  bool any = false;
  for (size_t i = 0; i < pattern.size();) {
    bool matched = false;
    for (const auto& f : kFields) {
      size_t n = std::strlen(f.token);
      if (pattern.compare(i, n, f.token) == 0) {
        shape->append(n, '#');
        strptime->append(f.directive);
        i += n;
        matched = any = true;
        break;
      }
    }
    if (matched) continue;
    char c = pattern[i++];
    if (c == '#') return false;  // would read as a digit
    shape->push_back(c);
    if (c == '%') strptime->push_back('%');
    strptime->push_back(c);
  }
  return any;
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

uint64_t Hash64(const std::string& s) {
  // FNV-1a: stable across runs and platforms, unlike std::hash.
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

std::string Describe(const std::vector<std::pair<std::string, std::string>>& kv) {
  std::string out = "{";
  for (size_t i = 0; i < kv.size(); i++) {
    if (i) out += ", ";
    out += kv[i].first + ": " + kv[i].second;
  }
  return out + "}";
}

// `path` relative to the folder `root` when it lies below it.
std::optional<std::string> PathBelow(std::string root, const std::string& path) {
  while (root.size() > 1 && root.back() == '/') root.pop_back();
  if (path.size() > root.size() && path.compare(0, root.size(), root) == 0 &&
      path[root.size()] == '/') {
    return path.substr(root.size() + 1);
  }
  return std::nullopt;
}

}  // namespace

std::string EncodeKeyValues(const std::vector<std::pair<std::string, std::string>>& key_values) {
  std::string out;
  for (const auto& [k, v] : key_values) {
    out += std::to_string(k.size()) + ":" + k + std::to_string(v.size()) + ":" + v;
  }
  return out;
}

// ---- PartitionFormat ---------------------------------------------------------

Result<PartitionFormat> PartitionFormat::Parse(const std::string& text) {
  PartitionFormat f;
  f.text_ = text;
  auto fail = [&](const std::string& why) {
    return Status::Usage("partition format '" + text + "': " + why);
  };
  size_t i = 0;
  if (!text.empty() && text[0] == '/') i = 1;
  auto literal = [&](char c) {
    if (f.tokens_.empty() || f.tokens_.back().kind != Token::Kind::kLiteral) f.tokens_.emplace_back();
    f.tokens_.back().text.push_back(c);
  };
  while (i < text.size()) {
    char c = text[i];
    if (c == '{') {
      size_t close = text.find('}', i + 1);
      if (close == std::string::npos) return fail("'{' at position " + std::to_string(i + 1) + " is not closed");
      std::string inside = text.substr(i + 1, close - i - 1);
      std::string name = inside, shape, strptime;
      size_t colon = inside.find(':');
      if (colon != std::string::npos) {
        name = inside.substr(0, colon);
        std::string pattern = inside.substr(colon + 1);
        if (!DateTimeShape(pattern, &shape, &strptime)) {
          return fail("'{" + inside + "}': the date-time pattern '" + pattern +
                      "' has none of yyyy, MM, dd, HH, mm, ss");
        }
      }
      if (name.empty()) return fail("'{" + inside + "}' has no key name");
      if (name.find_first_of("{/*") != std::string::npos) return fail("'{" + inside + "}' is not a key name");
      if (std::find(f.keys_.begin(), f.keys_.end(), name) != f.keys_.end()) {
        return fail("key '" + name + "' appears twice");
      }
      Token t;
      t.kind = Token::Kind::kKey;
      t.text = shape;
      t.key = f.keys_.size();
      f.tokens_.push_back(t);
      f.keys_.push_back(name);
      f.datetime_formats_.push_back(strptime);
      i = close + 1;
    } else if (c == '*') {
      Token t;
      if (i + 1 < text.size() && text[i + 1] == '*') {
        t.kind = Token::Kind::kDoubleStar;
        i += 2;
      } else {
        t.kind = Token::Kind::kStar;
        i += 1;
      }
      f.tokens_.push_back(t);
    } else if (c == '}') {
      return fail("'}' at position " + std::to_string(i + 1) + " has no '{'");
    } else {
      literal(c);
      i++;
    }
  }
  if (f.keys_.empty()) return fail("it names no key; write keys as {name}");
  return f;
}

PartitionFormat PartitionFormat::FolderLevels(std::vector<std::string> keys) {
  PartitionFormat f;
  f.folder_levels_ = true;
  f.datetime_formats_.assign(keys.size(), "");
  f.keys_ = std::move(keys);
  return f;
}

bool PartitionFormat::MatchTokens(size_t t, std::string_view path, size_t pos,
                                  std::vector<std::string>* values) const {
  if (t == tokens_.size()) return pos == path.size() || path[pos] == '/';
  const Token& token = tokens_[t];
  switch (token.kind) {
    case Token::Kind::kLiteral:
      if (path.substr(pos, token.text.size()) != token.text) return false;
      return MatchTokens(t + 1, path, pos + token.text.size(), values);
    case Token::Kind::kKey:
      if (!token.text.empty()) {  // date-time: a fixed shape
        const std::string& shape = token.text;
        if (path.size() - pos < shape.size()) return false;
        for (size_t k = 0; k < shape.size(); k++) {
          char c = path[pos + k];
          if (shape[k] == '#' ? !IsDigit(c) : c != shape[k]) return false;
        }
        (*values)[token.key] = std::string(path.substr(pos, shape.size()));
        return MatchTokens(t + 1, path, pos + shape.size(), values);
      }
      // One or more characters other than '/', as few as will do.
      for (size_t end = pos + 1; end <= path.size() && path[end - 1] != '/'; end++) {
        if (MatchTokens(t + 1, path, end, values)) {
          (*values)[token.key] = std::string(path.substr(pos, end - pos));
          return true;
        }
      }
      return false;
    case Token::Kind::kStar:
      for (size_t end = pos;; end++) {
        if (MatchTokens(t + 1, path, end, values)) return true;
        if (end == path.size() || path[end] == '/') return false;
      }
    case Token::Kind::kDoubleStar:
      for (size_t end = pos; end <= path.size(); end++) {
        if (MatchTokens(t + 1, path, end, values)) return true;
      }
      return false;
  }
  return false;
}

bool PartitionFormat::MatchFolderLevels(std::string_view path,
                                        std::vector<std::string>* values) const {
  size_t pos = 0;
  for (size_t k = 0; k < keys_.size(); k++) {
    size_t slash = path.find('/', pos);
    if (slash == std::string_view::npos) return false;  // the file name is no folder level
    std::string_view folder = path.substr(pos, slash - pos);
    if (folder.size() > keys_[k].size() && folder[keys_[k].size()] == '=' &&
        folder.substr(0, keys_[k].size()) == keys_[k]) {
      folder.remove_prefix(keys_[k].size() + 1);
    }
    (*values)[k] = std::string(folder);
    pos = slash + 1;
  }
  return true;
}

bool PartitionFormat::Match(std::string_view relative_path,
                            const std::vector<std::string>& ancestors,
                            std::vector<std::string>* values) const {
  values->assign(keys_.size(), std::string());
  if (folder_levels_) return MatchFolderLevels(relative_path, values);
  if (MatchTokens(0, relative_path, 0, values)) return true;
  std::string prefixed(relative_path);
  for (const std::string& name : ancestors) {
    prefixed = name + "/" + prefixed;
    if (MatchTokens(0, prefixed, 0, values)) return true;
  }
  return false;
}

bool PartitionFormat::GroupsAreContiguous(const std::vector<std::string>& keys) const {
  if (folder_levels_) return true;  // keys are the leading folders
  std::vector<bool> wanted(keys_.size(), false);
  for (const auto& k : keys) {
    auto it = std::find(keys_.begin(), keys_.end(), k);
    if (it != keys_.end()) wanted[it - keys_.begin()] = true;
  }
  size_t last = 0;
  bool any = false;
  for (size_t t = 0; t < tokens_.size(); t++) {
    if (tokens_[t].kind == Token::Kind::kKey && wanted[tokens_[t].key]) {
      last = t;
      any = true;
    }
  }
  if (!any) return false;
  for (size_t t = 0; t < tokens_.size(); t++) {
    const Token& token = tokens_[t];
    if (t > last && token.kind == Token::Kind::kLiteral && token.text.find('/') != std::string::npos) {
      return true;  // the component holding the last key ends here
    }
    bool fixed = token.kind == Token::Kind::kLiteral ||
                 (token.kind == Token::Kind::kKey && wanted[token.key]);
    if (!fixed) return false;
  }
  return true;  // the keys and literals make up the whole format
}

std::vector<std::string> RootAncestors(std::string p) {
  std::vector<std::string> out;
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  while (!p.empty() && p != "/") {
    size_t slash = p.rfind('/');
    std::string name = slash == std::string::npos ? p : p.substr(slash + 1);
    if (!name.empty() && name != "." && name != "..") out.push_back(name);
    if (slash == std::string::npos) break;
    p = slash == 0 ? "/" : p.substr(0, slash);
  }
  return out;
}

std::string PathToMatch(const std::string& root, const std::string& path) {
  if (std::optional<std::string> below = PathBelow(root, path)) return *below;
  return !path.empty() && path[0] == '/' ? path.substr(1) : path;
}

Status CheckPartitionKeys(const PartitionFormat& format, const std::vector<std::string>& keys,
                          const std::string& input_name) {
  auto listed = [&] {
    std::string s;
    for (const auto& k : format.keys()) s += (s.empty() ? "" : ", ") + k;
    return s;
  };
  if (keys.empty()) return Status::Usage("partition_keys is empty");
  for (size_t i = 0; i < keys.size(); i++) {
    if (std::find(keys.begin(), keys.begin() + i, keys[i]) != keys.begin() + i) {
      return Status::Usage("partition_keys names '" + keys[i] + "' twice");
    }
    if (std::find(format.keys().begin(), format.keys().end(), keys[i]) == format.keys().end()) {
      std::string where = format.text().empty() ? "its folder levels"
                                                : "its partition format '" + format.text() + "'";
      return Status::Usage("partition key '" + keys[i] + "' is not a key of input " + input_name +
                           " (" + where + " gives: " + listed() + ")");
    }
  }
  return Status::Ok();
}

// ---- FilePartitioner -----------------------------------------------------------

FilePartitioner::FilePartitioner(PartitionFormat format, std::vector<std::string> keys,
                                 std::string root, Options options)
    : format_(std::move(format)),
      keys_(std::move(keys)),
      root_(std::move(root)),
      options_(std::move(options)),
      contiguous_(format_.GroupsAreContiguous(keys_)) {
  for (const auto& k : keys_) {
    key_index_.push_back(std::find(format_.keys().begin(), format_.keys().end(), k) -
                         format_.keys().begin());
  }
  // The root's own name and its ancestors', nearest first.
  ancestors_ = RootAncestors(root_);
}

FilePartitioner::~FilePartitioner() {
  for (const Group& g : groups_) {
    if (!g.spill_path.empty()) unlink(g.spill_path.c_str());
  }
  if (spill_dir_made_) rmdir(options_.spill_dir.c_str());
}

std::string FilePartitioner::RelativePath(const std::string& path) const {
  if (std::optional<std::string> below = PathBelow(root_, path)) return *below;
  // The root is the file itself: its name is the relative path.
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

Status FilePartitioner::Add(const std::string& path) {
  if (!format_.Match(RelativePath(path), ancestors_, &values_)) {
    unmatched_++;
    if (unmatched_examples_.size() < kMaxExamples) unmatched_examples_.push_back(path);
    return Status::Ok();
  }
  std::vector<std::pair<std::string, std::string>> kv;
  kv.reserve(keys_.size());
  for (size_t i = 0; i < keys_.size(); i++) kv.emplace_back(keys_[i], values_[key_index_[i]]);
  std::string key = EncodeKeyValues(kv);

  if (contiguous_) {
    if (open_ && key == open_key_) {
      open_->files.push_back(path);
      return Status::Ok();
    }
    if (open_) {
      done_hashes_.insert(Hash64(open_key_));
      ready_.push_back(Partition{std::move(open_->key_values), std::move(open_->files)});
      open_.reset();
    }
    if (done_hashes_.count(Hash64(key))) {
      return Status::Infrastructure(
          "partition " + Describe(kv) + " of " + root_ +
          " came up again after its mini-batch was formed (at " + path +
          "): the listing is not grouped by folder, so the partitions cannot be formed as listed");
    }
    open_ = std::make_unique<Group>();
    open_->key_values = std::move(kv);
    open_->files.push_back(path);
    open_key_ = std::move(key);
    return Status::Ok();
  }

  auto [it, inserted] = index_.emplace(key, groups_.size());
  if (inserted) {
    groups_.emplace_back();
    groups_.back().key_values = std::move(kv);
    held_bytes_ += key.size();
  }
  Group& g = groups_[it->second];
  g.files.push_back(path);
  g.held_bytes += path.size() + sizeof(std::string);
  held_bytes_ += path.size() + sizeof(std::string);
  while (held_bytes_ > options_.max_held_bytes) {
    Status s = SpillLargest();
    if (!s.ok()) return s;
  }
  return Status::Ok();
}

Status FilePartitioner::SpillLargest() {
  auto largest = std::max_element(groups_.begin(), groups_.end(), [](const Group& a, const Group& b) {
    return a.held_bytes < b.held_bytes;
  });
  if (largest == groups_.end() || largest->files.empty()) {
    return Status::Infrastructure("partitions of " + root_ + ": more than " +
                                  std::to_string(options_.max_held_bytes) +
                                  " bytes of partition keys; too many partitions to hold");
  }
  if (options_.spill_dir.empty()) {
    return Status::Infrastructure("partitions of " + root_ + ": the file lists exceed " +
                                  std::to_string(options_.max_held_bytes) +
                                  " bytes and no spill folder is set");
  }
  if (!spill_dir_made_) {
    if (mkdir(options_.spill_dir.c_str(), 0700) != 0 && errno != EEXIST) {
      return Status::Infrastructure(ErrnoMessage(options_.spill_dir, errno));
    }
    spill_dir_made_ = true;
  }
  Group& g = *largest;
  if (g.spill_path.empty()) {
    g.spill_path = options_.spill_dir + "/group." + std::to_string(largest - groups_.begin());
    spilled_groups_++;
  }
  int fd = open(g.spill_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) return Status::Infrastructure(ErrnoMessage(g.spill_path, errno));
  // Each path is length-prefixed: paths may hold newlines.
  std::string buf;
  for (const std::string& f : g.files) {
    uint32_t n = static_cast<uint32_t>(f.size());
    buf.append(reinterpret_cast<const char*>(&n), sizeof n);
    buf += f;
  }
  const char* p = buf.data();
  size_t left = buf.size();
  while (left > 0) {
    ssize_t w = write(fd, p, left);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) {
      int err = errno;
      close(fd);
      return Status::Infrastructure(ErrnoMessage(g.spill_path, err));
    }
    p += w;
    left -= static_cast<size_t>(w);
  }
  close(fd);
  g.spilled += g.files.size();
  held_bytes_ -= g.held_bytes;
  g.held_bytes = 0;
  g.files.clear();
  g.files.shrink_to_fit();
  return Status::Ok();
}

Status FilePartitioner::ReadSpill(Group* g) {
  int fd = open(g->spill_path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::Infrastructure(ErrnoMessage(g->spill_path, errno));
  std::string data;
  char buf[1 << 16];
  for (;;) {
    ssize_t r = ReadAll(fd, buf, sizeof buf);
    if (r < 0) {
      int err = errno;
      close(fd);
      return Status::Infrastructure(ErrnoMessage(g->spill_path, err));
    }
    data.append(buf, static_cast<size_t>(r));
    if (static_cast<size_t>(r) < sizeof buf) break;
  }
  close(fd);
  unlink(g->spill_path.c_str());
  g->spill_path.clear();
  std::vector<std::string> files;
  files.reserve(g->spilled + g->files.size());
  for (size_t pos = 0; pos + sizeof(uint32_t) <= data.size();) {
    uint32_t n;
    std::memcpy(&n, data.data() + pos, sizeof n);
    pos += sizeof n;
    files.emplace_back(data, pos, n);
    pos += n;
  }
  for (auto& f : g->files) files.push_back(std::move(f));
  g->files = std::move(files);
  return Status::Ok();
}

Status FilePartitioner::Finish() {
  if (finished_) return Status::Ok();
  finished_ = true;
  if (contiguous_) {
    if (open_) ready_.push_back(Partition{std::move(open_->key_values), std::move(open_->files)});
    open_.reset();
    return Status::Ok();
  }
  for (Group& g : groups_) {
    if (!g.spill_path.empty()) {
      Status s = ReadSpill(&g);
      if (!s.ok()) return s;
    }
    ready_.push_back(Partition{std::move(g.key_values), std::move(g.files)});
  }
  groups_.clear();
  index_.clear();
  held_bytes_ = 0;
  return Status::Ok();
}

size_t FilePartitioner::Take(std::vector<Partition>* out) {
  size_t n = ready_.size();
  for (auto& p : ready_) out->push_back(std::move(p));
  ready_.clear();
  return n;
}

// ---- ColumnPartitionIndex -------------------------------------------------------

void ColumnPartitionIndex::Add(uint64_t range_id, uint32_t position,
                               std::vector<std::pair<std::string, std::string>> key_values,
                               std::string path, uint64_t rows) {
  std::string key = EncodeKeyValues(key_values);
  auto [it, inserted] = groups_.try_emplace(key);
  Entry& e = it->second;
  if (inserted) {
    e.first_range = range_id;
    e.first_position = position;
    e.group.key_values = std::move(key_values);
  } else if (std::tie(range_id, position) < std::tie(e.first_range, e.first_position)) {
    e.first_range = range_id;
    e.first_position = position;
  }
  auto& parts = e.group.parts;
  auto at = std::lower_bound(parts.begin(), parts.end(), range_id,
                             [](const Part& p, uint64_t id) { return p.range_id < id; });
  if (at != parts.end() && at->range_id == range_id) return;  // a retried range's report
  parts.insert(at, Part{range_id, std::move(path), rows});
  e.group.rows += rows;
}

std::vector<ColumnPartitionIndex::Group> ColumnPartitionIndex::TakeGroups() {
  std::vector<Entry*> order;
  order.reserve(groups_.size());
  for (auto& [key, e] : groups_) order.push_back(&e);
  std::sort(order.begin(), order.end(), [](const Entry* a, const Entry* b) {
    return std::tie(a->first_range, a->first_position) < std::tie(b->first_range, b->first_position);
  });
  std::vector<Group> out;
  out.reserve(order.size());
  for (Entry* e : order) out.push_back(std::move(e->group));
  groups_.clear();
  return out;
}

}  // namespace parallelrun

#include "data/file_lister.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <exception>
#include <memory>
#include <utility>
#include "base/disk.h"

namespace parallelrun {
namespace {

// Small enough that the first items leave soon and a starved consumer is not
// kept waiting; large enough that the lock and the owner's post are rare.
constexpr size_t kBatchSize = 256;

const char* FileKind(mode_t mode) {
  if (S_ISFIFO(mode)) return "fifo";
  if (S_ISSOCK(mode)) return "socket";
  if (S_ISCHR(mode)) return "character device";
  if (S_ISBLK(mode)) return "block device";
  return "unknown file type";
}

struct DirCloser {
  void operator()(DIR* dir) const { closedir(dir); }
};
using DirPtr = std::unique_ptr<DIR, DirCloser>;

}  // namespace

// The depth-first walk. It keeps one Frame per folder on the descent path,
// each with its open DIR* (children are opened relative to it, which is faster
// than resolving whole paths and has no PATH_MAX limit) and the names read
// from it but not yet visited — all of them for a sorted folder, at most
// sort_limit + 1 for a streamed one.
class FileLister::Walker {
 public:
  explicit Walker(FileLister* lister) : lister_(lister) {}

  // Returns when the tree is listed or the lister is stopping.
  void Walk() {
    const std::string& root = lister_->root_;
    struct stat st;
    for (const std::string& folder : lister_->exclude_) {
      if (stat(folder.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
        exclude_.push_back({st.st_dev, st.st_ino});
      }
    }
    if (stat(root.c_str(), &st) != 0) {
      lister_->AddError(ErrnoMessage(root, errno));
      return;
    }
    if (S_ISREG(st.st_mode)) {
      Emit(root);
      Flush();
      return;
    }
    // CheckInputPath rejects anything else; if it changed since, there is
    // nothing to list.
    if (!S_ISDIR(st.st_mode)) return;

    std::string prefix = root;
    while (prefix.size() > 1 && prefix.back() == '/') prefix.pop_back();
    // "/" lists as "/a", not "//a"; its Frame's path is then empty.
    if (prefix == "/") prefix.clear();
    Descend(AT_FDCWD, root.c_str(), prefix);

    while (!stack_.empty()) {
      if (lister_->stopping()) return;
      Frame& frame = stack_.back();
      Entry entry;
      if (!NextEntry(&frame, &entry)) {
        stack_.pop_back();
        continue;
      }
      std::string path;  // one allocation, not one per `+`
      path.reserve(frame.path.size() + 1 + entry.name.size());
      path.append(frame.path).append(1, '/').append(entry.name);
      unsigned char type = entry.type;
      // d_type is all we need for plain files and folders: a stat per entry
      // would make listing 6x slower (toolchain.md §2c).
      if (type == DT_LNK || type == DT_UNKNOWN) {
        struct stat target;
        if (fstatat(dirfd(frame.dir.get()), entry.name.c_str(), &target, 0) != 0) {
          // Dangling symlink, symlink to itself, or the entry vanished.
          lister_->AddError(ErrnoMessage(path, errno));
          continue;
        }
        type = S_ISREG(target.st_mode) ? DT_REG : S_ISDIR(target.st_mode) ? DT_DIR : DT_UNKNOWN;
      }
      if (type == DT_REG) {
        if (!Emit(std::move(path))) return;
      } else if (type == DT_DIR) {
        // Opening and reading a folder can take a while (40 ms for 65536
        // entries, longer on a network mount); a consumer that has run dry
        // gets what is ready first.
        if (lister_->consumer_starved_.load(std::memory_order_relaxed) && !Flush()) return;
        Descend(dirfd(frame.dir.get()), entry.name.c_str(), std::move(path));
      }
    }
    Flush();
  }

 private:
  struct Entry {
    std::string name;
    unsigned char type = DT_UNKNOWN;
  };
  struct Frame {
    DirPtr dir;
    std::string path;  // as output; empty for the root "/"
    dev_t dev = 0;
    ino_t ino = 0;
    std::vector<Entry> entries;  // read, not yet visited, from `next` on
    size_t next = 0;
    bool streaming = false;  // after `entries`, go on reading `dir`
  };

  // Opens folder `name` (relative to `parent_fd`) and pushes its Frame, or
  // records why it cannot be listed.
  void Descend(int parent_fd, const char* name, std::string path) {
    const std::string& shown = path.empty() ? std::string("/") : path;
    int fd = openat(parent_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
      lister_->AddError(ErrnoMessage(shown, errno));
      return;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
      lister_->AddError(ErrnoMessage(shown, errno));
      close(fd);
      return;
    }
    // An excluded folder is never the root: the plan excludes only folders
    // strictly inside an input.
    if (!stack_.empty()) {
      for (const auto& [dev, ino] : exclude_) {
        if (dev == st.st_dev && ino == st.st_ino) {
          lister_->AddExcluded(shown);
          close(fd);
          return;
        }
      }
    }
    // A symlink (or bind mount) back to a folder on the descent path would
    // list forever. Folders reached twice by other routes are listed twice,
    // like `find -L` does: remembering every folder would cost memory that
    // grows with the tree.
    for (const Frame& ancestor : stack_) {
      if (ancestor.dev == st.st_dev && ancestor.ino == st.st_ino) {
        lister_->AddError(shown + ": " + ErrnoText(ELOOP) + " (leads back to " +
                          (ancestor.path.empty() ? std::string("/") : ancestor.path) + ")");
        close(fd);
        return;
      }
    }
    DIR* dir = fdopendir(fd);
    if (dir == nullptr) {
      lister_->AddError(ErrnoMessage(shown, errno));
      close(fd);
      return;
    }
    Frame frame;
    frame.dir.reset(dir);
    frame.path = std::move(path);
    frame.dev = st.st_dev;
    frame.ino = st.st_ino;
    ReadFirstEntries(&frame);
    stack_.push_back(std::move(frame));
  }

  // Reads up to sort_limit + 1 entries: a folder that ends within sort_limit
  // is sorted, a longer one streamed. Either way nothing of it can be emitted
  // before this returns.
  void ReadFirstEntries(Frame* frame) {
    const size_t limit = lister_->sort_limit_;
    Entry entry;
    while (frame->entries.size() <= limit) {
      if (lister_->stopping()) return;
      if (!ReadEntry(frame, &entry)) {
        SortByName(&frame->entries);
        return;
      }
      frame->entries.push_back(std::move(entry));
    }
    frame->streaming = true;
  }

  // Sorts by name in byte order (std::string's <, strcmp's). Most names
  // differ in their first 8 bytes: those are compared as one integer, and
  // what is sorted is 16 bytes a name (the key and an index), not the names.
  static void SortByName(std::vector<Entry>* entries) {
    std::vector<std::pair<uint64_t, uint32_t>> keys(entries->size());
    for (size_t i = 0; i < entries->size(); i++) {
      const std::string& name = (*entries)[i].name;
      unsigned char head[8] = {};
      std::memcpy(head, name.data(), std::min<size_t>(8, name.size()));
      uint64_t key = 0;
      for (unsigned char b : head) key = (key << 8) | b;  // big-endian: byte order
      keys[i] = {key, static_cast<uint32_t>(i)};
    }
    std::sort(keys.begin(), keys.end(), [entries](const auto& a, const auto& b) {
      if (a.first != b.first) return a.first < b.first;
      return (*entries)[a.second].name < (*entries)[b.second].name;
    });
    std::vector<Entry> sorted;
    sorted.reserve(entries->size());
    for (const auto& key : keys) sorted.push_back(std::move((*entries)[key.second]));
    entries->swap(sorted);
  }

  // The next entry of `frame` to visit; false at its end.
  bool NextEntry(Frame* frame, Entry* entry) {
    if (frame->next < frame->entries.size()) {
      *entry = std::move(frame->entries[frame->next++]);
      return true;
    }
    if (!frame->streaming) return false;
    if (!frame->entries.empty()) {
      std::vector<Entry>().swap(frame->entries);  // give the memory back
      frame->next = 0;
    }
    return ReadEntry(frame, entry);
  }

  // readdir, minus "." and "..". False at the end of the folder or on a read
  // error, which is recorded.
  bool ReadEntry(Frame* frame, Entry* entry) {
    for (;;) {
      errno = 0;
      const struct dirent* d = readdir(frame->dir.get());
      if (d == nullptr) {
        if (errno != 0) {
          lister_->AddError(ErrnoMessage(frame->path.empty() ? "/" : frame->path, errno));
        }
        frame->streaming = false;
        return false;
      }
      const char* name = d->d_name;
      if (name[0] == '.' && (name[1] == '\0' || (name[1] == '.' && name[2] == '\0'))) continue;
      entry->name.assign(name);
      entry->type = d->d_type;
      return true;
    }
  }

  // False when the lister is stopping.
  bool Emit(std::string path) {
    batch_.push_back(std::move(path));
    if (batch_.size() >= lister_->batch_size_) return Flush();
    return true;
  }

  bool Flush() {
    if (batch_.empty()) return !lister_->stopping();
    return lister_->Publish(&batch_);
  }

  FileLister* const lister_;
  std::vector<std::pair<dev_t, ino_t>> exclude_;  // Options::exclude that exist
  std::vector<Frame> stack_;
  std::vector<std::string> batch_;
};

FileLister::FileLister(std::string root, Options options, std::function<void()> notify)
    : root_(std::move(root)),
      max_buffered_(std::max<size_t>(1, options.max_buffered)),
      sort_limit_(options.sort_limit),
      exclude_(std::move(options.exclude)),
      batch_size_(std::min(kBatchSize, max_buffered_)),
      notify_(std::move(notify)),
      thread_([this] { Run(); }) {}

FileLister::~FileLister() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  space_cv_.notify_all();
  thread_.join();
}

void FileLister::Run() {
  try {
    Walker(this).Walk();
  } catch (const std::exception& e) {
    // Only allocation can throw here; end the listing rather than the process.
    AddError(root_ + ": listing stopped: " + e.what());
  }
  timespec cpu{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    done_ = true;
    cpu_seconds_ = static_cast<double>(cpu.tv_sec) + static_cast<double>(cpu.tv_nsec) * 1e-9;
    if (stop_) return;
  }
  notify_();
}

double FileLister::cpu_seconds() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return cpu_seconds_;
}

bool FileLister::Publish(std::vector<std::string>* batch) {
  bool notify = false;
  {
    std::unique_lock<std::mutex> lock(mutex_);
    helper_waiting_ = true;
    space_cv_.wait(lock, [&] { return stop_ || pending_.size() + batch->size() <= max_buffered_; });
    helper_waiting_ = false;
    if (stop_) return false;
    for (std::string& path : *batch) pending_.push_back(std::move(path));
    listed_ += batch->size();
    if (consumer_starved_) {
      consumer_starved_ = false;
      notify = true;
    }
  }
  batch->clear();
  if (notify) notify_();
  return true;
}

void FileLister::AddError(std::string message) {
  std::lock_guard<std::mutex> lock(mutex_);
  ++error_count_;
  if (errors_.size() < kMaxErrors) errors_.push_back(std::move(message));
}

void FileLister::AddExcluded(std::string path) {
  std::lock_guard<std::mutex> lock(mutex_);
  excluded_.push_back(std::move(path));
}

size_t FileLister::Take(size_t max, std::vector<std::string>* out) {
  std::lock_guard<std::mutex> lock(mutex_);
  size_t n = std::min(max, pending_.size());
  for (size_t i = 0; i < n; ++i) {
    out->push_back(std::move(pending_.front()));
    pending_.pop_front();
  }
  consumer_starved_ = pending_.empty();
  // Wake a waiting helper only once the buffer is half empty (or a whole
  // batch fits in a small one): waking it for every batch taken makes the two
  // threads take turns at the lock and halves listing speed.
  if (helper_waiting_ &&
      pending_.size() + std::max(batch_size_, max_buffered_ / 2) <= max_buffered_) {
    space_cv_.notify_one();
  }
  return n;
}

bool FileLister::finished() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return done_ && pending_.empty();
}

uint64_t FileLister::listed() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return listed_;
}

bool FileLister::listing_done() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return done_;
}

std::vector<std::string> FileLister::errors() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return errors_;
}

uint64_t FileLister::error_count() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return error_count_;
}

std::vector<std::string> FileLister::excluded() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return excluded_;
}

Status CheckInputPath(const std::string& root) {
  if (root.empty()) return Status::Usage("empty input path");
  struct stat st;
  if (stat(root.c_str(), &st) != 0) return Status::Usage(ErrnoMessage(root, errno));
  if (S_ISDIR(st.st_mode)) {
    // Reading a folder needs r; opening what is inside it needs x.
    if (faccessat(AT_FDCWD, root.c_str(), R_OK | X_OK, AT_EACCESS) != 0) {
      return Status::Usage(ErrnoMessage(root, errno));
    }
    return Status::Ok();
  }
  if (S_ISREG(st.st_mode)) {
    int fd = open(root.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) return Status::Usage(ErrnoMessage(root, errno));
    close(fd);
    return Status::Ok();
  }
  return Status::Usage(root + ": Not a folder or regular file (" + FileKind(st.st_mode) + ")");
}

}  // namespace parallelrun

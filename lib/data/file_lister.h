// FileLister lists one input of a file dataset — a folder, recursively, or a
// single file — on a helper thread and hands the paths of its regular files to
// the event-loop thread a chunk at a time. Memory does not grow with the number
// of files, and the first paths are available long before a large folder has
// been read to its end (DESIGN.md §3: listing never blocks dispatch).
//
// Which entries are items: regular files, reached directly or through symlinks.
// Symlinks to folders are followed too. Sockets, fifos and devices are skipped
// without a word: they are not data. Hidden files are items like any other.
//
// Listing order, deterministic for an unchanged tree:
//  - Depth-first. Within a folder, files and subfolders interleave in one
//    order, and a subfolder is listed completely at the point where its name
//    comes up.
//  - A folder of at most Options::sort_limit entries is listed in byte order of
//    the names (strcmp, not the locale's collation: "B" < "a" < "a-b" < "a.b").
//  - A larger folder is streamed so that memory stays bounded: its entries come
//    in the file system's own readdir order (stable while the folder is
//    unchanged, otherwise arbitrary). Sorting it would mean holding all of it.
//
// Paths are byte strings exactly as on disk (spaces, newlines, non-UTF-8 bytes
// survive). Each is `root + "/" + relative path`, with trailing slashes of
// `root` dropped; when `root` is a file, the path is `root` itself.
//
// Folders named in Options::exclude (the job's own job dir and outputs when
// they are inside an input) are left out with everything below them; which
// ones were met is in excluded(). They are recognised by device and inode,
// so any path that leads to them (a symlink, another spelling) is left out
// too, at the cost of one comparison per folder listed.
//
// Problems inside the tree — an unreadable subfolder, an entry that vanished
// while being listed, a dangling symlink, a symlink loop — are recorded in
// errors() and listing goes on. Problems with `root` itself are meant to be
// found before a lister is built, by CheckInputPath().
#ifndef PARALLELRUN_DATA_FILE_LISTER_H_
#define PARALLELRUN_DATA_FILE_LISTER_H_

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "parallelrun/status.h"

namespace parallelrun {

class FileLister {
 public:
  struct Options {
    // Items listed but not yet taken. The helper thread waits while this many
    // are pending, so a slow consumer bounds the lister's memory (~100 bytes
    // per pending path). 0 is treated as 1.
    size_t max_buffered = 16384;
    // Folders with at most this many entries are sorted by name; larger ones
    // are streamed (see the order above). Each folder on the descent path may
    // hold up to this many names while its subfolders are listed.
    size_t sort_limit = 65536;
    // Folders (absolute paths) not to list. One that does not exist when
    // listing starts is ignored.
    std::vector<std::string> exclude;
  };

  // Starts listing `root` at once on a helper thread.
  //
  // `notify` is called on the helper thread, never under the lister's lock:
  //  - when items become available after a Take() left nothing pending (and
  //    before the first Take(): the first items are announced too), and
  //  - once when listing has finished (listing_done() is then true).
  // It is not called once the destructor has begun, but a call may be in
  // progress while the destructor waits for the helper thread; so whatever
  // `notify` posts must not assume the lister still exists.
  // REQUIRES: `notify` is cheap, thread-safe and does not call into the lister.
  FileLister(std::string root, Options options, std::function<void()> notify);

  // Stops the helper thread and joins it. The helper notices the stop at once
  // when it waits on a full buffer, and after at most one entry otherwise; a
  // system call that hangs (a dead network mount) delays this.
  ~FileLister();

  FileLister(const FileLister&) = delete;
  FileLister& operator=(const FileLister&) = delete;

  // Moves up to `max` paths, in listing order, to the end of `out`; returns how
  // many. A call that leaves nothing pending arms `notify` for the next items.
  // Called on the owner's (event-loop) thread.
  size_t Take(size_t max, std::vector<std::string>* out);

  // The helper thread is done and every listed item has been taken.
  bool finished() const;
  // Items listed so far, taken or not: the "total known so far" for progress.
  uint64_t listed() const;
  // The helper thread is done: listed() is the final total.
  bool listing_done() const;
  // Problems met while listing, each "path: detail" (usually strerror), in the
  // order met. Only the first kMaxErrors are kept; error_count() counts all.
  std::vector<std::string> errors() const;
  uint64_t error_count() const;
  // The folders of Options::exclude met while listing, as listed paths
  // ("root/out"), in the order met.
  std::vector<std::string> excluded() const;
  // The helper thread's CPU time (user and system), once listing_done().
  double cpu_seconds() const;

  static constexpr size_t kMaxErrors = 1000;

 private:
  class Walker;  // the helper thread's depth-first walk, in file_lister.cc

  void Run();
  // Helper thread: moves `batch` into the buffer, first waiting while it is
  // full. Returns false, leaving `batch` alone, when the lister is stopping.
  bool Publish(std::vector<std::string>* batch);
  void AddError(std::string message);
  void AddExcluded(std::string path);
  bool stopping() const { return stop_.load(std::memory_order_relaxed); }

  const std::string root_;
  const size_t max_buffered_;
  const size_t sort_limit_;
  const std::vector<std::string> exclude_;
  // Paths travel in batches of this many so that the lock and `notify` are
  // paid per batch, not per path.
  const size_t batch_size_;
  const std::function<void()> notify_;

  mutable std::mutex mutex_;
  std::condition_variable space_cv_;  // the helper waits here for room
  std::deque<std::string> pending_;   // guarded by mutex_
  uint64_t listed_ = 0;               // guarded by mutex_
  bool done_ = false;                 // guarded by mutex_
  bool helper_waiting_ = false;       // guarded by mutex_
  std::vector<std::string> errors_;   // guarded by mutex_
  uint64_t error_count_ = 0;          // guarded by mutex_
  std::vector<std::string> excluded_; // guarded by mutex_
  double cpu_seconds_ = 0;            // guarded by mutex_; set when done_
  // Written under mutex_; the helper also reads them without it, as hints.
  std::atomic<bool> stop_{false};
  std::atomic<bool> consumer_starved_{true};

  std::thread thread_;  // last: it starts once every other member is ready
};

// Checks, before a job starts, that `root` exists (following symlinks) and is
// a folder that can be read and searched, or a regular file that can be read.
// Returns Status::Usage with a message such as
//   "./data: No such file or directory"
//   "./data: Permission denied"
//   "/dev/null: Not a folder or regular file (character device)"
Status CheckInputPath(const std::string& root);

}  // namespace parallelrun

#endif  // PARALLELRUN_DATA_FILE_LISTER_H_

#include "data/parquet_footer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>

#include "base/disk.h"

namespace parallelrun {
namespace {

// ---- Thrift compact protocol, as much as a Parquet footer needs -----------------

class CompactReader {
 public:
  explicit CompactReader(const std::string& data) : data_(data) {}

  bool ok() const { return ok_; }
  void Fail(const std::string& why) {
    if (ok_) error_ = why + " at byte " + std::to_string(pos_);
    ok_ = false;
  }
  const std::string& error() const { return error_; }

  uint8_t Byte() {
    if (pos_ >= data_.size()) {
      Fail("unexpected end of the footer");
      return 0;
    }
    return static_cast<uint8_t>(data_[pos_++]);
  }
  uint64_t Varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64 && ok_; shift += 7) {
      uint8_t b = Byte();
      v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if (!(b & 0x80)) return v;
    }
    Fail("varint too long");
    return 0;
  }
  int64_t Zigzag() {
    uint64_t v = Varint();
    return static_cast<int64_t>(v >> 1) ^ -static_cast<int64_t>(v & 1);
  }

  // Reads a field header: false at STOP. Types: 1/2 bool true/false, 3 i8,
  // 4 i16, 5 i32, 6 i64, 7 double, 8 binary, 9 list, 10 set, 11 map, 12 struct.
  bool Field(int16_t* id, uint8_t* type, int16_t* last_id) {
    uint8_t b = Byte();
    if (!ok_ || b == 0) return false;
    *type = b & 0x0f;
    uint8_t delta = b >> 4;
    *id = delta ? static_cast<int16_t>(*last_id + delta) : static_cast<int16_t>(Zigzag());
    *last_id = *id;
    return ok_;
  }

  // List/set header: element type and count.
  void ListHeader(uint8_t* elem_type, uint64_t* count) {
    uint8_t b = Byte();
    *elem_type = b & 0x0f;
    *count = b >> 4;
    if (*count == 15) *count = Varint();
    if (*count > data_.size()) Fail("list of " + std::to_string(*count) + " elements");
  }

  void Skip(uint8_t type, int depth = 0) {
    if (!ok_) return;
    if (depth > 64) return Fail("nesting too deep");
    switch (type) {
      case 1:
      case 2:
        return;  // a bool field's value is in its type
      case 3:
        Byte();
        return;
      case 4:
      case 5:
      case 6:
        Varint();
        return;
      case 7:
        Advance(8);
        return;
      case 8:
        Advance(Varint());
        return;
      case 9:
      case 10: {
        uint8_t elem;
        uint64_t n;
        ListHeader(&elem, &n);
        for (uint64_t i = 0; i < n && ok_; i++) {
          if (elem == 1 || elem == 2) {
            Byte();  // bools in a list take a byte each
          } else {
            Skip(elem, depth + 1);
          }
        }
        return;
      }
      case 11: {
        uint64_t n = Varint();
        if (n == 0) return;
        if (n > data_.size()) return Fail("map of " + std::to_string(n) + " entries");
        uint8_t kv = Byte();
        for (uint64_t i = 0; i < n && ok_; i++) {
          Skip(kv >> 4, depth + 1);
          Skip(kv & 0x0f, depth + 1);
        }
        return;
      }
      case 12: {
        int16_t last = 0, id;
        uint8_t t;
        while (ok_ && Field(&id, &t, &last)) Skip(t, depth + 1);
        return;
      }
      default:
        Fail("unknown Thrift type " + std::to_string(type));
    }
  }

 private:
  void Advance(uint64_t n) {
    if (n > data_.size() - pos_) return Fail("field runs past the end of the footer");
    pos_ += n;
  }

  const std::string& data_;
  size_t pos_ = 0;
  bool ok_ = true;
  std::string error_;
};

bool ReadRowGroup(CompactReader& r, ParquetRowGroup* out) {
  int16_t last = 0, id;
  uint8_t type;
  std::optional<int64_t> total_byte_size, total_compressed, rows;
  while (r.ok() && r.Field(&id, &type, &last)) {
    if (type == 6 && (id == 2 || id == 3 || id == 6)) {
      int64_t v = r.Zigzag();
      if (id == 2) total_byte_size = v;
      if (id == 3) rows = v;
      if (id == 6) total_compressed = v;
    } else {
      r.Skip(type);
    }
  }
  if (!r.ok()) return false;
  if (!rows || *rows < 0) {
    r.Fail("a row group without num_rows");
    return false;
  }
  out->rows = static_cast<uint64_t>(*rows);
  int64_t bytes = total_compressed && *total_compressed > 0 ? *total_compressed
                                                            : total_byte_size.value_or(0);
  out->bytes = static_cast<uint64_t>(std::max<int64_t>(bytes, 0));
  return true;
}

}  // namespace

// ---- Parquet -------------------------------------------------------------------------

Result<ParquetLayout> DecodeParquetFooter(const std::string& footer) {
  CompactReader r(footer);
  ParquetLayout layout;
  bool have_groups = false;
  int16_t last = 0, id;
  uint8_t type;
  while (r.ok() && r.Field(&id, &type, &last)) {
    if (id == 3 && type == 6) {
      layout.rows = static_cast<uint64_t>(std::max<int64_t>(r.Zigzag(), 0));
    } else if (id == 4 && type == 9) {
      uint8_t elem;
      uint64_t n;
      r.ListHeader(&elem, &n);
      if (r.ok() && elem != 12) r.Fail("row_groups is not a list of structs");
      uint64_t rows = 0;
      for (uint64_t i = 0; i < n && r.ok(); i++) {
        ParquetRowGroup g;
        if (!ReadRowGroup(r, &g)) break;
        // Row numbers are int64 in Parquet (and file row indices here).
        if (g.rows > static_cast<uint64_t>(INT64_MAX) - rows) {
          r.Fail("the row groups hold more than 2^63 rows");
          break;
        }
        rows += g.rows;
        layout.row_groups.push_back(g);
      }
      have_groups = true;
    } else {
      r.Skip(type);
    }
  }
  if (!r.ok()) return Status::Usage("the Parquet footer does not decode: " + r.error());
  if (!have_groups) return Status::Usage("the Parquet footer has no row_groups");
  return layout;
}

Result<ParquetLayout> ReadParquetLayout(const std::string& path) {
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
  if (fd.get() < 0) return Status::Usage(ErrnoMessage(path, errno));
  struct stat st;
  if (fstat(fd.get(), &st) != 0) return Status::Usage(ErrnoMessage(path, errno));
  uint64_t size = static_cast<uint64_t>(st.st_size);
  char head[4], tail[8];
  if (size < 12 || PreadAll(fd.get(), head, 4, 0) != 4 || PreadAll(fd.get(), tail, 8, size - 8) != 8 ||
      std::memcmp(head, "PAR1", 4) != 0 || std::memcmp(tail + 4, "PAR1", 4) != 0) {
    return Status::Usage(path + ": not a Parquet file (no PAR1 magic at its start and end)");
  }
  uint32_t footer_len = static_cast<uint8_t>(tail[0]) | static_cast<uint8_t>(tail[1]) << 8 |
                        static_cast<uint8_t>(tail[2]) << 16 |
                        static_cast<uint32_t>(static_cast<uint8_t>(tail[3])) << 24;
  if (footer_len == 0 || footer_len > size - 12) {
    return Status::Usage(path + ": the Parquet footer length " + std::to_string(footer_len) +
                         " does not fit the file");
  }
  std::string footer(footer_len, '\0');
  if (PreadAll(fd.get(), footer.data(), footer_len, size - 8 - footer_len) !=
      static_cast<ssize_t>(footer_len)) {
    return Status::Usage(ErrnoMessage(path, errno ? errno : EIO));
  }
  Result<ParquetLayout> layout = DecodeParquetFooter(footer);
  if (!layout.ok()) return layout.status().WithContext(path);
  // A row group's byte count only steers the split, and its data is in the
  // file: a footer that claims more (or an uncompressed size) is held to the
  // file's size, so that it cannot ask for more mini-batches than the file
  // has bytes.
  for (ParquetRowGroup& g : layout->row_groups) g.bytes = std::min(g.bytes, size);
  return layout;
}

void SplitParquet(const std::string& path, const TableReadOptions& options,
                  const ParquetLayout& layout, uint64_t mini_batch_size,
                  const std::vector<TableRange::PathColumn>& path_columns, const RangeSink& sink) {
  const uint64_t size = std::max<uint64_t>(mini_batch_size, 1);
  auto make = [&](uint32_t g0, uint32_t g1, uint64_t first_row, uint64_t r0, uint64_t r1,
                  uint64_t bytes) {
    TableRange r;
    r.path = path;
    r.options = options;
    r.length = bytes;
    r.group_begin = g0;
    r.group_end = g1;
    r.group_first_row = first_row;
    r.row_begin = r0;
    r.row_end = r1;
    r.path_columns = path_columns;
    return sink(std::move(r));
  };
  uint64_t row = 0;  // file row index of the current group's first row
  uint32_t acc_begin = 0;
  uint64_t acc_first_row = 0, acc_bytes = 0, acc_rows = 0;
  bool go_on = true;
  auto flush = [&](uint32_t end) {
    if (acc_rows > 0 && go_on) {
      go_on = make(acc_begin, end, acc_first_row, acc_first_row, acc_first_row + acc_rows, acc_bytes);
    }
    acc_rows = acc_bytes = 0;
  };
  for (uint32_t g = 0; g < layout.row_groups.size() && go_on; g++) {
    const ParquetRowGroup& rg = layout.row_groups[g];
    if (acc_rows == 0) {
      acc_begin = g;
      acc_first_row = row;
      acc_bytes = 0;
    }
    if (rg.bytes > size && rg.rows > 1) {
      flush(g);
      // A row group larger than a mini-batch: cut it into row ranges of
      // about mini_batch_size bytes each.
      uint64_t pieces = std::min<uint64_t>(rg.bytes / size + (rg.bytes % size != 0), rg.rows);
      // rows × i overflows 64 bits for a footer's large counts.
      auto at = [&](uint64_t i) {
        return row + static_cast<uint64_t>(static_cast<unsigned __int128>(rg.rows) * i / pieces);
      };
      for (uint64_t i = 0; i < pieces && go_on; i++) {
        uint64_t r0 = at(i), r1 = at(i + 1);
        go_on = make(g, g + 1, row, r0, r1, rg.bytes / pieces);
      }
      row += rg.rows;
      continue;
    }
    acc_bytes += rg.bytes;
    acc_rows += rg.rows;
    row += rg.rows;
    if (acc_bytes >= size) flush(g + 1);
  }
  flush(static_cast<uint32_t>(layout.row_groups.size()));
}

}  // namespace parallelrun

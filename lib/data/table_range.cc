#include "data/table_range.h"

#include <fmt/format.h>

#include "base/wire.h"

namespace parallelrun {

// ---- descriptor encoding ------------------------------------------------------------
//
//   u8 version (kTableRangeVersion), u8 format, bytes path,
//   u64 offset, u64 length, u32 group_begin, u32 group_end, u64 group_first_row,
//   u64 row_begin, u64 row_end,
//   u8 flags: 1 has_header, 2 whole_file, 4 file_header, 8 include_path_column,
//             16 empty_as_string, 32 support_multi_line
//   u8 header mode, bytes header, bytes delimiter, bytes encoding, bytes invalid_lines,
//   bytes path_column, u32 n, n × (bytes name, bytes value, bytes datetime_format)
//   version 2: bytes transforms, u64 keep_begin, u64 keep_end

std::string EncodeTableRange(const TableRange& r) {
  WireWriter w;
  w.U8(kTableRangeVersion);
  w.U8(static_cast<uint8_t>(r.options.format));
  w.Bytes(r.path);
  w.U64(r.offset);
  w.U64(r.length);
  w.U32(r.group_begin);
  w.U32(r.group_end);
  w.U64(r.group_first_row);
  w.U64(r.row_begin);
  w.U64(r.row_end);
  uint8_t flags = (r.has_header ? 1 : 0) | (r.whole_file ? 2 : 0) | (r.file_header ? 4 : 0) |
                  (r.options.include_path_column ? 8 : 0) | (r.options.empty_as_string ? 16 : 0) |
                  (r.options.support_multi_line ? 32 : 0);
  w.U8(flags);
  w.U8(static_cast<uint8_t>(r.options.header));
  w.Bytes(r.header);
  w.Bytes(r.options.delimiter);
  w.Bytes(r.options.encoding);
  w.Bytes(r.options.invalid_lines);
  w.Bytes(r.options.path_column);
  w.U32(static_cast<uint32_t>(r.path_columns.size()));
  for (const auto& c : r.path_columns) {
    w.Bytes(c.name);
    w.Bytes(c.value);
    w.Bytes(c.datetime_format);
  }
  w.Bytes(r.options.transforms);
  w.U64(r.keep_begin);
  w.U64(r.keep_end);
  return w.Take();
}

bool DecodeTableRange(const std::string& data, TableRange* out) {
  // The smallest path column: three empty bytes fields.
  constexpr size_t kMinPathColumnBytes = 3 * 4;
  WireFields f(data);
  const uint8_t version = f.U8("version");
  if (version != 1 && version != kTableRangeVersion) return false;
  TableRange r;
  r.options.format = static_cast<TableFormat>(
      f.Enum("format", static_cast<uint8_t>(TableFormat::kPickle), "a table format"));
  r.path = f.Bytes("path");
  r.offset = f.U64("offset");
  r.length = f.U64("length");
  r.group_begin = f.U32("group_begin");
  r.group_end = f.U32("group_end");
  r.group_first_row = f.U64("group_first_row");
  r.row_begin = f.U64("row_begin");
  r.row_end = f.U64("row_end");
  uint8_t flags = f.U8("flags");
  r.has_header = flags & 1;
  r.whole_file = flags & 2;
  r.file_header = flags & 4;
  r.options.include_path_column = flags & 8;
  r.options.empty_as_string = flags & 16;
  r.options.support_multi_line = flags & 32;
  r.options.header = static_cast<HeaderMode>(
      f.Enum("header mode", static_cast<uint8_t>(HeaderMode::kAllFilesDifferentHeaders),
             "a header mode"));
  r.header = f.Bytes("header");
  r.options.delimiter = f.Bytes("delimiter");
  r.options.encoding = f.Bytes("encoding");
  r.options.invalid_lines = f.Bytes("invalid_lines");
  r.options.path_column = f.Bytes("path_column");
  uint32_t n = f.Count("path columns", kMinPathColumnBytes);
  for (uint32_t i = 0; i < n && f.ok(); i++) {
    TableRange::PathColumn c;
    c.name = f.Bytes("path column name");
    c.value = f.Bytes("path column value");
    c.datetime_format = f.Bytes("path column datetime_format");
    r.path_columns.push_back(std::move(c));
  }
  if (version >= 2) {
    r.options.transforms = f.Bytes("transforms");
    r.keep_begin = f.U64("keep_begin");
    r.keep_end = f.U64("keep_end");
  }
  std::string why;  // the caller only needs to know that it does not decode
  if (!f.Done(&why)) return false;
  *out = std::move(r);
  return true;
}

std::string ItemLabel(const MiniBatch& batch, size_t i) {
  const std::string& item = batch.items[i];
  if (!IsTabular(batch.kind)) return item;
  TableRange r;
  if (!DecodeTableRange(item, &r)) return "(a table range that does not decode)";
  if (r.whole_file) return r.path;
  if (r.options.format == TableFormat::kParquet) {
    return fmt::format("{} (rows {}-{})", r.path, r.row_begin, r.row_end - 1);
  }
  return fmt::format("{} (bytes {}-{})", r.path, r.offset, r.offset + r.length - 1);
}

}  // namespace parallelrun

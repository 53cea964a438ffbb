"""parallelrun tabular helpers: what a worker needs for tabular input and
partitions by column.

The worker driver (lib/node/worker_driver.py) loads this file as a module
when a job needs it (its Worker.load and its `shuffle` command); it is kept
in its own file so that it can be tested on its own. pandas (and pyarrow, for
Parquet) are imported only when a function needs them, so a file-input job
never pays for the import. The pandas pre-flight check (check-tabular) and
append_row's writing of run()'s rows (_write_rows) are in the driver itself.

- decode_descriptor(): a table range as lib/data/table_range.cc EncodeTableRange
  writes it (keep the two in step).
- load_table() / load_tables(): a range (or the whole files of a partition)
  as a pandas.DataFrame: a CSV/TSV byte range read with the file's header as
  column names, a JSON Lines byte range, Parquet row groups or rows.
- group_partitions() / spill_partitions(): partitions by columns (see
  lib/partitions.h ColumnPartitionIndex for the design).
- MiniBatchContext: the second argument of run(mini_batch, mini_batch_context).
"""
import hashlib
import io
import json
import os
import pickle
import struct
import sys

DESCRIPTOR_VERSION = 2  # 1 still decodes: no transforms, every row kept
ALL_ROWS = (1 << 64) - 1
DELIMITED, JSON_LINES, PARQUET, PICKLE = 0, 1, 2, 3
FORMAT_NAMES = {DELIMITED: "delimited", JSON_LINES: "json_lines", PARQUET: "parquet", PICKLE: "pickle"}
HEADER_MODES = ["all_files_same_headers", "from_first_file", "no_header", "all_files_different_headers"]

# MLTable encoding names → Python codecs. Other names are passed to Python as given.
ENCODINGS = {
    "utf8": "utf-8", "utf8bom": "utf-8-sig", "iso88591": "iso-8859-1", "latin1": "latin-1",
    "ascii": "ascii", "utf16": "utf-16", "utf32": "utf-32", "windows1252": "cp1252",
}
_BOM = b"\xef\xbb\xbf"
_ROW_BATCH = 65536  # rows per Parquet batch while skipping to a row range


def pyarrow_missing_message():
    return "pyarrow is needed to read Parquet; install it in %s (%s -m pip install pyarrow)" % (
        sys.executable, sys.executable)


# ---- descriptors --------------------------------------------------------------

class _Reader:
    def __init__(self, data):
        self.data = data
        self.pos = 0

    def take(self, fmt):
        values = struct.unpack_from(fmt, self.data, self.pos)
        self.pos += struct.calcsize(fmt)
        return values[0] if len(values) == 1 else values

    def bytes(self):
        n = self.take("<I")
        if self.pos + n > len(self.data):
            raise ValueError("table range descriptor: field runs past the end")
        value = bytes(self.data[self.pos:self.pos + n])
        self.pos += n
        return value


def decode_descriptor(data):
    """Decodes an encoded table range (bytes) into a dict. Paths stay bytes
    under "path_bytes" and are decoded with os.fsdecode under "path"."""
    r = _Reader(data)
    version = r.take("<B")
    if version not in (1, DESCRIPTOR_VERSION):
        raise ValueError("table range descriptor version %d; this worker reads %d"
                         % (version, DESCRIPTOR_VERSION))
    d = {"format": r.take("<B")}
    d["path_bytes"] = r.bytes()
    d["path"] = os.fsdecode(d["path_bytes"])
    (d["offset"], d["length"], d["group_begin"], d["group_end"], d["group_first_row"],
     d["row_begin"], d["row_end"], flags, header_mode) = r.take("<QQIIQQQBB")
    d["has_header"] = bool(flags & 1)
    d["whole_file"] = bool(flags & 2)
    d["file_header"] = bool(flags & 4)
    d["include_path_column"] = bool(flags & 8)
    d["empty_as_string"] = bool(flags & 16)
    d["support_multi_line"] = bool(flags & 32)
    d["header_mode"] = HEADER_MODES[header_mode]
    d["header"] = r.bytes()
    d["delimiter"] = r.bytes().decode("utf-8", "surrogateescape")
    d["encoding"] = r.bytes().decode("ascii")
    d["invalid_lines"] = r.bytes().decode("ascii")
    d["path_column"] = r.bytes().decode("utf-8", "surrogateescape")
    count = r.take("<I")
    columns = []
    for _ in range(count):
        name = r.bytes().decode("utf-8", "surrogateescape")
        value = r.bytes().decode("utf-8", "surrogateescape")
        fmt = r.bytes().decode("utf-8", "surrogateescape")
        columns.append((name, value, fmt))
    d["path_columns"] = columns
    d["transforms"], d["keep_begin"], d["keep_end"] = "", 0, ALL_ROWS
    if version >= 2:
        d["transforms"] = r.bytes().decode("utf-8", "surrogateescape")
        d["keep_begin"], d["keep_end"] = r.take("<QQ")
    if r.pos != len(data):
        raise ValueError("table range descriptor: %d bytes left over" % (len(data) - r.pos))
    return d


def descriptor(path, format=DELIMITED, **fields):
    """A descriptor dict with defaults, as decode_descriptor returns it (for
    tests, and for the spill files of a column-partition shuffle)."""
    d = {"format": format, "path": os.fsdecode(path), "path_bytes": os.fsencode(path),
         "offset": 0, "length": 0, "group_begin": 0, "group_end": 0, "group_first_row": 0,
         "row_begin": 0, "row_end": 0, "has_header": False, "whole_file": False,
         "file_header": False, "include_path_column": False, "empty_as_string": False,
         "support_multi_line": False, "header_mode": "all_files_same_headers", "header": b"",
         "delimiter": ",", "encoding": "utf8", "invalid_lines": "error", "path_column": "Path",
         "path_columns": [], "transforms": "", "keep_begin": 0, "keep_end": ALL_ROWS}
    unknown = set(fields) - set(d)
    if unknown:
        raise TypeError("unknown descriptor fields: %s" % ", ".join(sorted(unknown)))
    d.update(fields)
    return d


# ---- reading tables ---------------------------------------------------------------

def _codec(encoding):
    key = encoding.lower().replace("-", "").replace("_", "")
    return ENCODINGS.get(key, encoding)


def _read_bytes(d):
    if d["whole_file"]:
        with open(d["path_bytes"], "rb") as f:
            return f.read()
    with open(d["path_bytes"], "rb") as f:
        f.seek(d["offset"])
        data = f.read(d["length"])
    if len(data) != d["length"]:
        raise IOError("%s: expected %d bytes at offset %d, read %d (the file changed?)"
                      % (d["path"], d["length"], d["offset"], len(data)))
    return data


def _na_options(d):
    if not d["empty_as_string"]:
        return {}
    try:
        from pandas._libs.parsers import STR_NA_VALUES
        na = set(STR_NA_VALUES)
    except Exception:
        na = {"NA", "N/A", "NaN", "nan", "null", "NULL", "None", "n/a", "<NA>", "#N/A", "-NaN",
              "-nan", "1.#IND", "1.#QNAN", "-1.#IND", "-1.#QNAN", "#N/A N/A"}
    na.discard("")
    return {"keep_default_na": False, "na_values": sorted(na)}


def _load_delimited(d):
    import pandas as pd
    codec = _codec(d["encoding"])
    data = _read_bytes(d)
    wide = codec.replace("-", "").lower().startswith(("utf16", "utf32"))
    if not wide and (d["whole_file"] or d["offset"] == 0) and data.startswith(_BOM):
        data = data[len(_BOM):]  # pandas drops it from a file's start too
    sep = d["delimiter"] or ","
    options = {"sep": sep, "encoding": codec, "engine": "c" if len(sep) == 1 else "python"}
    options.update(_na_options(d))
    if d["transforms"]:
        # An MLTable: the text as written, typed afterwards as mltable types
        # it (infer_column_types), not by pandas' guesses.
        options["dtype"] = str
    if d["whole_file"] and d["file_header"]:
        header = 0
    elif d["has_header"]:
        # The range with its file's header in front reads exactly as the rows
        # did in the whole file: same column names, same name mangling.
        eol = "\n".encode(codec) if wide else b"\n"
        head = d["header"]
        if wide:
            head = head.decode("utf-8", "surrogateescape").encode(codec)
        data = head + eol + data
        header = 0
    else:
        header = None
    if not data.strip():
        frame = pd.DataFrame()
    else:
        frame = pd.read_csv(io.BytesIO(data), header=header, **options)
    if header is None and len(frame.columns):
        frame.columns = ["Column%d" % (i + 1) for i in range(len(frame.columns))]
    return frame


def _load_json_lines(d):
    import pandas as pd
    text = _read_bytes(d).decode(_codec(d["encoding"]))
    if text.startswith("\ufeff"):
        text = text[1:]
    lines = [line for line in text.splitlines() if line.strip()]
    if d["invalid_lines"] == "drop":
        good = []
        for line in lines:
            try:
                json.loads(line)
            except ValueError:
                continue
            good.append(line)
        lines = good
    if not lines:
        return pd.DataFrame()
    return pd.read_json(io.StringIO("\n".join(lines)), lines=True)


def _load_parquet(d):
    try:
        import pyarrow
        import pyarrow.parquet as pq
    except ImportError:
        raise ImportError(pyarrow_missing_message()) from None
    # An open file rather than a path: any file name bytes work.
    with open(d["path_bytes"], "rb") as f:
        pf = pq.ParquetFile(f)
        if d["whole_file"]:
            return pf.read().to_pandas()
        groups = list(range(d["group_begin"], d["group_end"]))
        group_rows = sum(pf.metadata.row_group(g).num_rows for g in groups)
        skip = d["row_begin"] - d["group_first_row"]
        want = d["row_end"] - d["row_begin"]
        if skip == 0 and want == group_rows:
            return pf.read_row_groups(groups).to_pandas()
        # Part of a big row group: stream it and keep only our rows, so memory
        # stays at one batch plus the rows kept.
        kept = []
        for batch in pf.iter_batches(batch_size=_ROW_BATCH, row_groups=groups):
            n = batch.num_rows
            if skip >= n:
                skip -= n
                continue
            piece = batch.slice(skip, want)
            skip = 0
            kept.append(piece)
            want -= piece.num_rows
            if want <= 0:
                break
        if not kept:
            return pf.schema_arrow.empty_table().to_pandas()
        return pyarrow.Table.from_batches(kept).to_pandas()


def _load_pickle(d):
    import pandas as pd
    frames = []
    with open(d["path_bytes"], "rb") as f:
        while True:
            try:
                frames.append(pickle.load(f))
            except EOFError:
                break
    if not frames:
        return pd.DataFrame()
    return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]


_LOADERS = {DELIMITED: _load_delimited, JSON_LINES: _load_json_lines, PARQUET: _load_parquet,
            PICKLE: _load_pickle}


def load_table(desc):
    """The rows of one table range (an encoded descriptor or a dict from
    decode_descriptor) as a pandas.DataFrame with a fresh RangeIndex: the
    file's columns, then the path column (include_path_column) and the
    columns taken from the path (extract_columns_from_partition_format)."""
    import pandas as pd
    d = decode_descriptor(desc) if isinstance(desc, (bytes, bytearray, memoryview)) else desc
    loader = _LOADERS.get(d["format"])
    if loader is None:
        raise ValueError("unknown table format %r" % (d["format"],))
    frame = loader(d)
    if d["keep_begin"] or d["keep_end"] != ALL_ROWS:
        frame = frame.iloc[d["keep_begin"]:min(d["keep_end"], len(frame))]
    frame.reset_index(drop=True, inplace=True)
    transforms = json.loads(d["transforms"]) if d["transforms"] else None
    if transforms is not None and d["format"] == DELIMITED:
        frame = infer_column_types(frame, transforms.get("infer", True))
    if d["include_path_column"]:
        frame[d["path_column"] or "Path"] = d["path"]
    for name, value, fmt in d["path_columns"]:
        frame[name] = pd.to_datetime(value, format=fmt) if fmt else value
    if transforms is not None:
        frame = apply_steps(frame, transforms.get("steps", []))
    return frame


# ---- MLTable column types and transformations ---------------------------------------
#
# An MLTable is read by the mltable library (its Rust reader), not by pandas:
# run() on Azure gets its types. read_delimited with infer_column_types (the
# default) types a column by all of its values: every value one of
# true/false/t/f/1/0 (any case) → bool; whole numbers → int64 (float64 when
# some are missing); numbers → float64; dates and date-times in the ISO forms
# (and dd/MM/yyyy or MM/dd/yyyy where the values tell which) → datetime64;
# anything else a string, a missing value None. A mini-batch is typed by its
# own rows, as pandas would type them.

_BOOL_TRUE = {"true", "t", "1"}
_BOOL_FALSE = {"false", "f", "0"}
_INT_RE = r"[+-]?[0-9]+"
_FLOAT_RE = r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?|[+-]?(inf|Infinity|nan|NaN)"
# (regex, strptime format) in the order tried.
_DATETIME_FORMATS = [
    (r"[0-9]{4}-[0-9]{2}-[0-9]{2}", "%Y-%m-%d"),
    (r"[0-9]{4}/[0-9]{2}/[0-9]{2}", "%Y/%m/%d"),
    (r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?Z?", None),
]
_DAY_MONTH = [(r"[0-9]{1,2}/[0-9]{1,2}/[0-9]{4}", "%d/%m/%Y"),
              (r"[0-9]{1,2}/[0-9]{1,2}/[0-9]{4}", "%m/%d/%Y")]


def _as_text(series):
    """The column's values as text, None where missing."""
    import pandas as pd
    return series.map(lambda v: None if v is None or (not isinstance(v, str) and pd.isna(v))
                      else str(v))


def _parse_datetimes(text, fmt):
    """`text` (non-missing strings) as datetime64 by `fmt` (None: ISO), or
    None when a value does not parse."""
    import pandas as pd
    try:
        if fmt is None:
            values = text.str.replace(r"Z$", "", regex=True)
            return pd.to_datetime(values, format="ISO8601") if _PANDAS_2 else pd.to_datetime(values)
        return pd.to_datetime(text, format=fmt)
    except (ValueError, TypeError, OverflowError):
        return None


def _pandas_major():
    try:
        import pandas as pd
        return int(pd.__version__.split(".")[0])
    except Exception:
        return 1


_PANDAS_2 = _pandas_major() >= 2


def infer_column(series):
    """One column typed as mltable's read_delimited types it (see above)."""
    import pandas as pd
    text = _as_text(series)
    present = text.dropna()
    missing = len(present) != len(text)
    if len(present) == 0:
        return pd.Series([None] * len(text), dtype=object, index=series.index)
    stripped = present.str.strip()
    lower = stripped.str.lower()
    if lower.isin(_BOOL_TRUE | _BOOL_FALSE).all():
        values = [None if v is None else v.strip().lower() in _BOOL_TRUE for v in text]
        out = pd.Series(values, dtype=object if missing else bool)
    elif stripped.str.fullmatch(_INT_RE).all():
        numbers = pd.to_numeric(text.where(text.notna(), None), errors="coerce")
        out = numbers.astype("float64") if missing else numbers.astype("int64")
    elif stripped.str.fullmatch(_FLOAT_RE).all():
        out = pd.to_numeric(text, errors="coerce").astype("float64")
    else:
        out = None
        for regex, fmt in _DATETIME_FORMATS:
            if stripped.str.fullmatch(regex).all():
                parsed = _parse_datetimes(stripped, fmt)
                if parsed is not None:
                    out = pd.Series(pd.NaT, index=text.index, dtype="datetime64[ns]")
                    out[present.index] = parsed.values
                break
        if out is None and stripped.str.fullmatch(_DAY_MONTH[0][0]).all():
            # Both orders parse when every field is 12 or less: then the
            # values do not tell which, and the column stays text.
            parses = [(fmt, _parse_datetimes(stripped, fmt)) for _, fmt in _DAY_MONTH]
            good = [(fmt, p) for fmt, p in parses if p is not None]
            if len(good) == 1:
                out = pd.Series(pd.NaT, index=text.index, dtype="datetime64[ns]")
                out[present.index] = good[0][1].values
        if out is None:
            out = text.astype(object)
    out.index = series.index
    return out


def infer_column_types(frame, infer=True):
    """The columns of a delimited mini-batch typed as mltable types them
    (infer) or all text (infer_column_types: false), a missing value None."""
    import pandas as pd
    if len(frame.columns) == 0:
        return frame
    columns = {}
    for i, name in enumerate(frame.columns):
        col = frame.iloc[:, i]
        columns[i] = infer_column(col) if infer else _as_text(col).astype(object)
    out = pd.DataFrame(columns, index=frame.index)
    out.columns = frame.columns
    return out


def _missing_columns(frame, names, what):
    missing = [n for n in names if n not in frame.columns]
    if missing:
        raise KeyError("%s: column%s %s not in the table (its columns: %s)"
                       % (what, "s" if len(missing) > 1 else "", ", ".join(map(repr, missing)),
                          ", ".join(map(str, frame.columns))))


def _to_bool(series, c):
    import pandas as pd
    trues = set(c.get("true_values") or ["true", "t", "1", "True", "TRUE", "T"])
    falses = set(c.get("false_values") or ["false", "f", "0", "False", "FALSE", "F"])
    mismatch = c.get("mismatch_as", "error")
    default = {"true": True, "false": False}.get(mismatch)
    values = []
    for v in series:
        if isinstance(v, (bool,)) or type(v).__name__ == "bool_":
            values.append(bool(v))
            continue
        if v is None or (not isinstance(v, str) and pd.isna(v)):
            values.append(None)
            continue
        t = str(v)
        if isinstance(v, float) and v.is_integer():
            t = str(int(v))
        values.append(True if t in trues else False if t in falses else default)
    missing = any(v is None for v in values)
    return pd.Series(values, index=series.index, dtype=object if missing else bool)


def _to_datetime(series, formats):
    import datetime
    import pandas as pd
    if str(series.dtype).startswith("datetime64"):
        return series
    out = []
    for v in series:
        value = pd.NaT
        if v is not None and not (not isinstance(v, str) and pd.isna(v)):
            for fmt in formats:
                try:
                    value = datetime.datetime.strptime(str(v).strip(), fmt)
                    break
                except ValueError:
                    continue
        out.append(value)
    return pd.Series(pd.to_datetime(out), index=series.index)


def convert_column(series, c):
    """convert_column_types for one column: int, float, string, boolean,
    datetime. A value that does not convert becomes missing (None, NaN or
    NaT), as mltable gives an error value that pandas shows as missing."""
    import pandas as pd
    kind = c["type"]
    if kind in ("int", "float"):
        if series.dtype == bool:
            series = series.astype("int64")
        numbers = pd.to_numeric(series.map(lambda v: v.strip() if isinstance(v, str) else v),
                                errors="coerce")
        if kind == "float" or numbers.isna().any():
            return numbers.astype("float64")
        return numbers.astype("int64")
    if kind == "string":
        return _as_text(series).astype(object)
    if kind == "boolean":
        return _to_bool(series, c)
    if kind == "datetime":
        return _to_datetime(series, c["formats"])
    raise ValueError("convert_column_types: unknown column type %r" % (kind,))


def _filter_mask(frame, step):
    import pandas as pd
    what = "filter (line %s) %s" % (step.get("line"), step.get("expression", ""))
    _missing_columns(frame, [step["column"]], what)
    col = frame[step["column"]]
    kind, value = step["kind"], step["value"]
    if kind == "number":
        left = pd.to_numeric(col, errors="coerce") if col.dtype == object else col
    elif kind == "string":
        left = _as_text(col)
    elif kind == "bool":
        left = col.map(lambda v: v if isinstance(v, bool) or type(v).__name__ == "bool_" else None)
    else:
        left = pd.to_datetime(col, errors="coerce")
        value = pd.Timestamp(*value)
    present = left.notna()
    ops = {"==": lambda a: a == value, "!=": lambda a: a != value, "<": lambda a: a < value,
           "<=": lambda a: a <= value, ">": lambda a: a > value, ">=": lambda a: a >= value}
    mask = pd.Series(False, index=frame.index)
    if present.any():
        mask[present] = ops[step["cmp"]](left[present]).astype(bool)
    return mask


def apply_steps(frame, steps):
    """The MLTable's transformations after its read (plan/mltable.cc writes
    them): drop_columns, keep_columns, convert_column_types and filter, in
    the order written. skip and take were cut by the batcher (keep_begin,
    keep_end)."""
    for step in steps:
        op = step["op"]
        what = "%s (line %s)" % (op, step.get("line"))
        if op == "drop_columns":
            _missing_columns(frame, step["columns"], what)
            frame = frame.drop(columns=step["columns"])
        elif op == "keep_columns":
            _missing_columns(frame, step["columns"], what)
            keep = set(step["columns"])
            frame = frame[[c for c in frame.columns if c in keep]]
        elif op == "convert_column_types":
            frame = frame.copy()
            for c in step["conversions"]:
                _missing_columns(frame, c["columns"], what)
                for name in c["columns"]:
                    frame[name] = convert_column(frame[name], c)
        elif op == "filter":
            frame = frame[_filter_mask(frame, step).values].reset_index(drop=True)
        else:
            raise ValueError("unknown MLTable transformation %r" % (op,))
    return frame


def _count_delimited(text, delimiter):
    """Records in delimited `text`: line ends outside quoted fields, with the
    quote rules of the splitter (lib/data/text_splitter.cc: a '"' opens a
    quoted field only at a field's start, "" inside one is a quote), not
    counting blank lines (pandas skips them). A quote still open at the end
    (a broken quote) would swallow every later line into one record, though
    each line was most likely meant as one: then every non-blank line is
    counted instead."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if '"' in text:
        records, content, at_start, quoted, after_quote = 0, False, True, False, False
        for c in text:
            if quoted:
                if c == '"':
                    quoted, after_quote = False, True
                continue
            if after_quote and c == '"':  # "" inside a quoted field
                quoted, after_quote = True, False
                continue
            after_quote = False
            if c == "\n":
                records += content
                content, at_start = False, True
            elif c == delimiter:
                content, at_start = True, True
            elif c == '"' and at_start:
                quoted, content, at_start = True, True, False
            else:
                content, at_start = True, False
        if not quoted:
            return records + content
    return sum(1 for line in text.split("\n") if line.strip())


def count_records(desc):
    """The best count of the rows in table range `desc` without parsing it,
    for a range that could not be read (a ragged row, a broken quote): its
    rows then count as failed items, as if run() had raised on them.
    Delimited: records by line ends outside quotes (_count_delimited), less
    the file's header; JSON Lines: non-blank lines; Parquet: the rows of the
    range (from the footer for a whole file). None when it cannot tell (a
    pickle of a shuffle, whose rows the master knows already)."""
    d = decode_descriptor(desc) if isinstance(desc, (bytes, bytearray, memoryview)) else desc
    n = _count_records(d)
    if n is not None and (d["keep_begin"] or d["keep_end"] != ALL_ROWS):
        n = max(min(n, d["keep_end"]) - d["keep_begin"], 0)
    return n


def _count_records(d):
    if d["format"] == PARQUET:
        if not d["whole_file"]:
            return d["row_end"] - d["row_begin"]
        import pyarrow.parquet as pq
        with open(d["path_bytes"], "rb") as f:
            return pq.ParquetFile(f).metadata.num_rows
    if d["format"] not in (DELIMITED, JSON_LINES):
        return None
    text = _read_bytes(d).decode(_codec(d["encoding"]), "replace")
    if text.startswith("\ufeff"):
        text = text[1:]
    if d["format"] == JSON_LINES:
        return sum(1 for line in text.split("\n") if line.strip())
    records = _count_delimited(text, (d["delimiter"] or ",")[-1])
    if d["whole_file"] and d["file_header"]:
        records = max(records - 1, 0)
    return records


def load_tables(descs):
    """Several ranges (a partition's files) as one DataFrame, in order."""
    import pandas as pd
    frames = [load_table(d) for d in descs]
    if not frames:
        return pd.DataFrame()
    if len(frames) == 1:
        return frames[0]
    return pd.concat(frames, ignore_index=True)


# ---- partitions by column ----------------------------------------------------------

def group_partitions(df, keys):
    """Splits `df` by the values of the columns `keys`: a list of
    (dict key → value, sub-DataFrame) in order of first appearance. Missing
    values form a group of their own. Raises KeyError naming a missing key."""
    keys = list(keys)
    missing = [k for k in keys if k not in df.columns]
    if missing:
        raise KeyError("partition key%s %s not among the table's columns (%s)"
                       % ("s" if len(missing) > 1 else "", ", ".join(map(repr, missing)),
                          ", ".join(map(str, df.columns))))
    out = []
    if len(df) == 0:
        return out
    # One key as a scalar: pandas yields scalars for it (a list of one warns).
    by = keys[0] if len(keys) == 1 else keys
    for value, part in df.groupby(by, sort=False, dropna=False):
        values = value if isinstance(value, tuple) else (value,)
        out.append((dict(zip(keys, values)), part.reset_index(drop=True)))
    return out


def _value_text(value):
    try:
        import pandas as pd
        if pd.isna(value):
            return ""
    except (TypeError, ValueError, ImportError):
        pass
    return str(value)


def partition_hash(key_values):
    """A stable folder name for a combination: sha1 of its encoding."""
    h = hashlib.sha1()
    for k, v in key_values:
        for part in (k, v):
            raw = part.encode("utf-8", "surrogateescape")
            h.update(str(len(raw)).encode() + b":" + raw)
    return h.hexdigest()[:20]


def spill_partitions(descs, keys, spill_dir, tag):
    """The shuffle step of partitions by column: reads the range(s), groups
    the rows by `keys` and writes each group to
    <spill_dir>/<partition_hash>/<tag>.pkl (tag = "<range id>.<attempt>", so a
    retried range never appends to its earlier attempt's file; each file is
    written under a temporary name and renamed). Returns, in order of first
    appearance, [{"key_values": [[key, text], …], "path": …, "rows": n}]."""
    frame = load_tables(descs if isinstance(descs, (list, tuple)) else [descs])
    report = []
    for values, part in group_partitions(frame, keys):
        kv = [[k, _value_text(v)] for k, v in values.items()]
        folder = os.path.join(spill_dir, partition_hash(kv))
        os.makedirs(folder, exist_ok=True)
        path = os.path.join(folder, "%s.pkl" % tag)
        tmp = "%s.tmp-%d" % (path, os.getpid())
        with open(tmp, "wb") as f:
            pickle.dump(part, f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
        report.append({"key_values": kv, "path": path, "rows": len(part)})
    return report


class MiniBatchContext:
    """The second argument of run(mini_batch, mini_batch_context) (reference
    §3.2): partition_key_value (dict key → value), dataset (the mini-batch's
    data: the DataFrame, or the list of files) and minibatch_index (the id)."""

    def __init__(self, partition_key_value=None, dataset=None, minibatch_index=0):
        self.partition_key_value = dict(partition_key_value or {})
        self.dataset = dataset
        self.minibatch_index = minibatch_index

    def __repr__(self):
        return "MiniBatchContext(partition_key_value=%r, minibatch_index=%r)" % (
            self.partition_key_value, self.minibatch_index)

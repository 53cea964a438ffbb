#!/usr/bin/env python3
"""Writes the seed corpus of parquet_footer_fuzz into the folder given
(fuzz/corpus_parquet/ was made with it): Parquet footers — Thrift compact
FileMetaData with a few row groups, and fields the reader skips — alone and
as whole files (PAR1, data, footer, its length, PAR1).

    python3 fuzz/make_parquet_seeds.py fuzz/corpus_parquet
"""
import os
import struct
import sys


def varint(n):
    out = b""
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def zigzag(n):
    return varint((n << 1) ^ (n >> 63))


def field(delta, ftype):
    return bytes([(delta << 4) | ftype])


def i64(delta, v):
    return field(delta, 6) + zigzag(v)


def i32(delta, v):
    return field(delta, 5) + zigzag(v)


def binary(delta, data):
    return field(delta, 8) + varint(len(data)) + data


def row_group(rows, size, compressed=None):
    # 1 columns (empty list of structs), 2 total_byte_size, 3 num_rows,
    # 6 total_compressed_size.
    body = field(1, 9) + bytes([0x0C]) + i64(1, size) + i64(1, rows)
    if compressed is not None:
        body += i64(3, compressed)
    return body + b"\x00"


def footer(groups, extra=b""):
    schema = field(1, 9) + bytes([0x1C]) + binary(4, b"schema") + b"\x00"
    total = sum(g[0] for g in groups)
    body = i32(1, 1) + schema + i64(1, total)
    body += field(1, 9) + bytes([(min(len(groups), 15) << 4) | 0x0C])
    if len(groups) >= 15:
        body += varint(len(groups))
    for g in groups:
        body += row_group(*g)
    return body + extra + b"\x00"


def whole_file(foot, data=b"\x00" * 64):
    return b"PAR1" + data + foot + struct.pack("<I", len(foot)) + b"PAR1"


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    seeds = {
        "one_group": footer([(10, 40, 30)]),
        "three_groups": footer([(5, 20), (7, 28, 14), (1, 4, 4)]),
        "big_group": footer([(1000, 60, 50)]),
        "many_groups": footer([(i + 1, 3 * i + 1) for i in range(20)]),
        "created_by": footer([(2, 8)], extra=binary(3, b"parquet-cpp version 1")),
    }
    for name, foot in list(seeds.items()):
        seeds[name + ".parquet"] = whole_file(foot)
    for name, data in seeds.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()

"""Household buckets: a stable bucket of each household pseudonym, the same on every engine.

A household's bucket is ``pmod(xxhash64(household_id), buckets)`` — Spark SQL's own
``pmod(xxhash64(col), n)`` (XXH64 of the UTF-8 bytes with seed 42, taken as a signed 64-bit
integer, then a non-negative remainder). :func:`bucket_of` computes it with NumPy, vectorised
over all ids of one length at a time (pseudonyms have one length), so the pandas engine, the
store layout written by ingest and the Spark engine put every household in the same bucket.

The store (:mod:`assist.storage.store`) writes each table-month file as one row group per
bucket, so one bucket's rows of every table are read without scanning the others.
"""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

#: Spark's seed for ``xxhash64``
SEED = 42
#: the hash, as the store's manifest names it
HASH_NAME = "spark-xxhash64-seed42-pmod"
#: about this many households per bucket when the count is chosen from the district's size
HOUSEHOLDS_PER_BUCKET = 20_000

_P1 = np.uint64(0x9E3779B185EBCA87)
_P2 = np.uint64(0xC2B2AE3D27D4EB4F)
_P3 = np.uint64(0x165667B19E3779F9)
_P4 = np.uint64(0x85EBCA77C2B2AE63)
_P5 = np.uint64(0x27D4EB2F165667C5)


def count_for(households: int, per_bucket: int = HOUSEHOLDS_PER_BUCKET) -> int:
    """Buckets for ``households`` households: about ``per_bucket`` each, at least one."""
    return max(1, math.ceil(households / per_bucket))


def _rotl(x: np.ndarray, r: int) -> np.ndarray:
    return (x << np.uint64(r)) | (x >> np.uint64(64 - r))


def _round(acc: np.ndarray, lane: np.ndarray) -> np.ndarray:
    return _rotl(acc + lane * _P2, 31) * _P1


def _lanes(data: np.ndarray, start: int, width: int) -> np.ndarray:
    """Little-endian unsigned integers of ``width`` bytes at column ``start`` of each row."""
    out = np.zeros(len(data), dtype=np.uint64)
    for i in range(width):
        out |= data[:, start + i].astype(np.uint64) << np.uint64(8 * i)
    return out


def _xxh64_rows(data: np.ndarray) -> np.ndarray:
    """XXH64 (seed :data:`SEED`) of each row of a 2-D uint8 array (equal-length inputs)."""
    n, length = data.shape
    seed = np.uint64(SEED)
    pos = 0
    with np.errstate(over="ignore"):
        if length >= 32:
            v = [np.full(n, seed + _P1 + _P2), np.full(n, seed + _P2), np.full(n, seed),
                 np.full(n, seed - _P1)]
            while pos + 32 <= length:
                v = [_round(v[i], _lanes(data, pos + 8 * i, 8)) for i in range(4)]
                pos += 32
            h = _rotl(v[0], 1) + _rotl(v[1], 7) + _rotl(v[2], 12) + _rotl(v[3], 18)
            for lane in v:
                h = (h ^ _round(np.zeros(n, dtype=np.uint64), lane)) * _P1 + _P4
        else:
            h = np.full(n, seed + _P5)
        h = h + np.uint64(length)
        while pos + 8 <= length:
            h = _rotl(h ^ _round(np.zeros(n, dtype=np.uint64), _lanes(data, pos, 8)), 27) \
                * _P1 + _P4
            pos += 8
        if pos + 4 <= length:
            h = _rotl(h ^ (_lanes(data, pos, 4) * _P1), 23) * _P2 + _P3
            pos += 4
        while pos < length:
            h = _rotl(h ^ (data[:, pos].astype(np.uint64) * _P5), 11) * _P1
            pos += 1
        h ^= h >> np.uint64(33)
        h *= _P2
        h ^= h >> np.uint64(29)
        h *= _P3
        h ^= h >> np.uint64(32)
    return h


def xxhash64(ids: pa.Array | pa.ChunkedArray | list[str]) -> np.ndarray:
    """Spark's ``xxhash64`` of each string (signed 64-bit), vectorised per string length."""
    arr = pa.array(ids, pa.string()) if isinstance(ids, list) else ids
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    arr = arr.cast(pa.large_string())
    if arr.null_count:
        raise ValueError("household ids must not be missing")
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int64)[arr.offset:arr.offset + len(arr) + 1]
    data = np.frombuffer(arr.buffers()[2], dtype=np.uint8) if len(arr) else np.zeros(0, np.uint8)
    lengths = np.diff(offsets)
    out = np.empty(len(arr), dtype=np.uint64)
    for length in np.unique(lengths):
        rows = np.flatnonzero(lengths == length)
        matrix = data[offsets[rows, None] + np.arange(int(length))] if length else \
            np.zeros((len(rows), 0), dtype=np.uint8)
        out[rows] = _xxh64_rows(matrix)
    return out.view(np.int64)


def bucket_of(ids: pa.Array | pa.ChunkedArray | list[str], buckets: int) -> np.ndarray:
    """The bucket (0 .. buckets-1) of each household id: ``pmod(xxhash64(id), buckets)``."""
    if buckets < 1:
        raise ValueError("buckets must be at least 1")
    if buckets == 1:
        return np.zeros(len(ids), dtype=np.int64)
    return np.mod(xxhash64(ids), buckets)


def bucket_column(values: pa.Array | pa.ChunkedArray, buckets: int) -> pa.Array:
    """:func:`bucket_of` over an Arrow column of ids, hashing each distinct id once."""
    if buckets == 1:
        return pa.array(np.zeros(len(values), dtype=np.int64))
    encoded = pc.dictionary_encode(values)
    if isinstance(encoded, pa.ChunkedArray):
        encoded = encoded.combine_chunks()
    per_id = bucket_of(encoded.dictionary, buckets)
    return pa.array(per_id[encoded.indices.to_numpy(zero_copy_only=False)])

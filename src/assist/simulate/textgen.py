"""Vectorised generation of identifiers and personal text: ids, names, ID numbers, addresses.

Everything is built from integer arrays without Python loops over rows: digits are written as
ASCII codes into a fixed-width byte matrix and handed to Arrow as one string buffer.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

SURNAMES = (
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡",
    "郭", "何", "林", "高", "罗", "郑", "梁", "谢", "宋", "唐", "许", "韩", "冯", "邓", "曹",
    "沈", "顾", "陆", "蒋", "范", "姚", "钱", "金", "施", "潘",
)
GIVEN_F = (
    "芳", "丽", "敏", "静", "秀", "英", "华", "慧", "娟", "霞", "玲", "燕", "婷", "雪", "琳",
    "洁", "颖", "萍", "红", "梅", "兰", "佳", "雯", "欣", "怡", "倩", "晶", "文", "菊", "珍",
)
GIVEN_M = (
    "伟", "强", "军", "磊", "勇", "杰", "涛", "明", "超", "刚", "平", "辉", "建", "国", "华",
    "峰", "斌", "鹏", "浩", "宇", "俊", "文", "林", "海", "波", "荣", "龙", "志", "东", "亮",
)
ROADS = (
    "梅林路", "樱园路", "秋水路", "春申路", "云锦路", "石门路", "清溪路", "青松路", "兴旺路",
    "长风路", "丹桂路", "玉兰路", "桃源路", "金桥路", "银杏路", "柳营路", "广德路", "安宁路",
    "和平路", "宝庆路", "东篱路", "西溪路", "南塘路", "北苑路", "新华路", "顺昌路",
)
#: Shanghai district codes (local hukou) and provincial capitals' district codes (non-local)
LOCAL_REGIONS = (310101, 310104, 310105, 310106, 310107, 310109, 310110, 310112, 310113,
                 310114, 310115, 310116, 310117, 310118, 310120, 310151)
OTHER_REGIONS = (320102, 330106, 340104, 360102, 410105, 420102, 430102, 510104, 130102,
                 370102, 350102, 450102, 500103, 610102, 230102)
_ID_WEIGHTS = np.array([7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2], dtype=np.int64)
_ID_CHECK = np.frombuffer(b"10X98765432", dtype=np.uint8)


def digit_codes(values: np.ndarray, width: int) -> np.ndarray:
    """Zero-padded decimal digits of non-negative integers: an (n, width) ASCII-code matrix."""
    v = np.asarray(values, dtype=np.uint64).copy()
    out = np.empty((len(v), width), dtype=np.uint8)
    for i in range(width - 1, -1, -1):
        out[:, i] = (v % 10).astype(np.uint8) + 48
        v //= 10
    return out


def ascii_strings(codes: np.ndarray) -> pa.Array:
    """Rows of an (n, w) ASCII-code matrix as an Arrow string array (no per-row Python)."""
    n, w = codes.shape
    offsets = np.arange(0, (n + 1) * w, w, dtype=np.int32) if n else np.zeros(1, np.int32)
    data = np.ascontiguousarray(codes, dtype=np.uint8).tobytes()
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets.tobytes()), pa.py_buffer(data))


def scramble(index: np.ndarray, width: int, key: tuple[int, int]) -> np.ndarray:
    """A bijection of ``index`` onto ``[0, 10**width)``: distinct inputs give distinct numbers."""
    modulus = np.uint64(10**width)
    a, b = np.uint64(key[0]), np.uint64(key[1])
    return (np.asarray(index, dtype=np.uint64) * a + b) % modulus


def id_key(rng: np.random.Generator) -> tuple[int, int]:
    """A random multiplier (coprime with 10) and offset for :func:`scramble`."""
    a = int(rng.integers(10**6, 10**8)) * 10 + int(rng.choice([1, 3, 7, 9]))
    return a, int(rng.integers(0, 10**9))


def prefixed_ids(prefix: str, index: np.ndarray, width: int, key: tuple[int, int]) -> pa.Array:
    """Identifiers ``prefix`` + ``width`` digits, distinct for distinct ``index`` values."""
    digits = digit_codes(scramble(index, width, key), width)
    head = np.frombuffer(prefix.encode("ascii"), dtype=np.uint8)
    return ascii_strings(np.hstack([np.broadcast_to(head, (len(index), len(head))), digits]))


def take(values: tuple[str, ...] | list[str], codes: np.ndarray) -> pa.Array:
    """Strings ``values[codes]`` as an Arrow string array."""
    return pa.array(list(values), type=pa.string()).take(pa.array(np.asarray(codes, np.int64)))


def join(*parts: pa.Array | str) -> pa.Array:
    """Element-wise concatenation of string arrays (plain ``str`` parts are broadcast)."""
    return pc.binary_join_element_wise(*parts, "")


def names(rng: np.random.Generator, sex: np.ndarray, surname: np.ndarray) -> pa.Array:
    """Chinese full names: the given surname code plus one or two sex-typical given characters."""
    n = len(sex)
    pool = np.array(GIVEN_F + GIVEN_M)
    offset = np.where(sex == 1, len(GIVEN_F), 0)
    g1 = rng.integers(0, len(GIVEN_F), n) + offset
    g2 = rng.integers(0, len(GIVEN_F), n) + offset
    two = rng.random(n) < 0.7
    given2 = take(list(pool) + [""], np.where(two, g2, len(pool)))
    return join(take(SURNAMES, surname), take(list(pool), g1), given2)


def id_numbers(rng: np.random.Generator, birth: np.ndarray, sex: np.ndarray,
               local: np.ndarray) -> pa.Array:
    """18-digit national ID numbers: region, birth date, sequence (odd for men), check digit."""
    n = len(birth)
    regions = np.where(local, np.array(LOCAL_REGIONS)[rng.integers(0, len(LOCAL_REGIONS), n)],
                       np.array(OTHER_REGIONS)[rng.integers(0, len(OTHER_REGIONS), n)])
    day = birth.astype("datetime64[D]")
    year = day.astype("datetime64[Y]").astype(np.int64) + 1970
    month = (day.astype("datetime64[M]") - day.astype("datetime64[Y]")).astype(np.int64) + 1
    dom = (day - day.astype("datetime64[M]")).astype(np.int64) + 1
    seq = rng.integers(0, 500, n) * 2 + np.where(sex == 1, 1, 0)
    number = (regions.astype(np.int64) * 10**8 + year * 10**4 + month * 100 + dom) * 1000 + seq
    digits = digit_codes(number, 17)
    check = _ID_CHECK[((digits.astype(np.int64) - 48) @ _ID_WEIGHTS) % 11]
    return ascii_strings(np.hstack([digits, check[:, None]]))


def addresses(rng: np.random.Generator, street_names: list[str], street: np.ndarray) -> pa.Array:
    """Street addresses: ``<street><road><lane>弄<building>号<room>室``."""
    n = len(street)
    road = (street * 2 + rng.integers(0, 2, n)) % len(ROADS)
    lane = pc.cast(pa.array(rng.integers(1, 1800, n)), pa.string())
    bldg = pc.cast(pa.array(rng.integers(1, 60, n)), pa.string())
    room = pc.cast(pa.array(rng.integers(1, 25, n) * 100 + rng.integers(1, 7, n)), pa.string())
    return join(take(street_names, street), take(ROADS, road), lane, "弄", bldg, "号", room, "室")


def certificate_numbers(id_number: pa.Array, dis_type: np.ndarray, grade: np.ndarray) -> pa.Array:
    """Disability certificate numbers: the holder's ID number, a type digit and the grade."""
    kind = pc.cast(pa.array(np.asarray(dis_type, np.int64) + 1), pa.string())
    level = pc.cast(pa.array(np.asarray(grade, np.int64)), pa.string())
    return join(id_number, kind, level)

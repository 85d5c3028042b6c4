"""Contact details the simulated registry holds beside names, ID numbers and addresses:
members' mobile phone numbers.

Derived, without drawing from any random stream, from each person's position in the
district and the district's identifier key, so the other extracts stay identical for a seed
and a person keeps the same number from month to month. Children under 16 have none, and
about three in ten people over 80 none either (the household's contact is then another member).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from assist.simulate import textgen

#: mainland mobile prefixes (China Mobile, Unicom, Telecom)
PREFIXES = ("134", "135", "136", "137", "138", "139", "150", "151", "152", "157", "158", "159",
            "182", "183", "187", "188", "130", "131", "132", "155", "156", "185", "186", "133",
            "153", "177", "180", "181", "189", "199")
_DIGITS = 10  # 2 digits choose the prefix, 8 follow it


def phones(person: np.ndarray, age: np.ndarray, key: tuple[int, int]) -> pa.Array:
    """Mobile numbers of persons ``person`` (district positions) aged ``age``: 11 digits,
    missing for children under 16 and for some of the oldest."""
    a, b = key
    number = textgen.scramble(person, _DIGITS, ((a * 7919 * 3) % 10**_DIGITS,
                                                (b * 7 + 1) % 10**_DIGITS))
    prefix = (number // np.uint64(10**8)) % np.uint64(len(PREFIXES))
    tail = textgen.digit_codes(number % np.uint64(10**8), 8)
    heads = np.frombuffer("".join(PREFIXES).encode("ascii"), np.uint8).reshape(-1, 3)
    codes = np.hstack([heads[prefix.astype(np.int64)], tail])
    none = (np.asarray(age) < 16) | ((np.asarray(age) > 80) & (number % np.uint64(10) < 3))
    out = textgen.ascii_strings(codes)
    return pa.array(np.where(none, None, out.to_numpy(zero_copy_only=False)), type=pa.string())

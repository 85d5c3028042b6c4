"""What a caseworker takes on a visit: the household's current benefits for the visit sheet
(走访单), and the Excel export of the caseworker's referral list (with identities of their
own streets, each one an audited reveal).

Current benefits are read from the validated store's ``assistance`` table (the month scored,
else the latest month before it): grants without an end date or ending in or after that month.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter

from assist.features.codes import CAUSES, STREETS
from assist.reports.i18n import programme_names
from assist.serving.schemas import ReferralPublic
from assist.serving.schemas_identity import IdentityPublic
from assist.storage.store import list_snapshots, table_path

#: export columns: (Chinese header, English header, width)
COLUMNS: tuple[tuple[str, str, int], ...] = (
    ("街道", "Street", 12), ("社区", "Community", 11), ("街道内排名", "Rank in street", 10),
    ("家庭编号", "Household id", 24), ("户主姓名", "Head's name", 10), ("地址", "Address", 34),
    ("联系电话", "Phone", 14), ("需要程度", "Need band", 9), ("需要概率", "Probability", 10),
    ("主要致困原因", "Primary cause", 12), ("主要因素", "Top factors", 48),
    ("匹配救助项目", "Matched programmes", 30), ("本月安排走访", "Allocated this month", 12),
    ("状态", "Status", 10),
)
BANDS_ZH = {"high": "高", "medium": "中", "low": "低"}
STATUS_ZH = {"open": "待走访", "decided": "已处理"}


def current_benefits(store: Path, household_ids: Sequence[str], *,
                     as_of: str) -> dict[str, list[str]] | None:
    """Programme codes each household holds an active grant of at the end of ``as_of``
    (every asked household is a key); None when the store holds no such month."""
    months = [m for m in list_snapshots(store) if m <= as_of] if Path(store).is_dir() else []
    if not months:
        return None
    path = table_path(store, "assistance", months[-1])
    if not path.is_file():
        return None
    start = f"{as_of}-01"
    table = pq.read_table(path, columns=["household_id", "programme", "end_date"],
                          filters=[("household_id", "in", list(household_ids))])
    ends = table.column("end_date")
    active = pc.or_(pc.is_null(ends), pc.greater_equal(pc.cast(ends, "date32").cast("string"),
                                                       start))
    out: dict[str, list[str]] = {h: [] for h in household_ids}
    kept = table.filter(pc.fill_null(active, True))
    for h, p in zip(kept.column("household_id").to_pylist(), kept.column("programme").to_pylist(),
                    strict=True):
        if p not in out[h]:
            out[h].append(p)
    return out


def _programmes(codes: Sequence[str]) -> str:
    names = programme_names()
    return "；".join(f"{names[c].zh}（{names[c].en}）" if c in names else c for c in codes)


def _safe(value: object) -> object:
    """Text never read as a formula by a spreadsheet (=, +, -, @ first)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value
    return value


def _row(r: ReferralPublic, who: IdentityPublic | None) -> list[object]:
    cause = CAUSES.get(r.primary_cause or "")
    return [_safe(v) for v in _cells(r, who, cause)]


def _cells(r: ReferralPublic, who: IdentityPublic | None, cause) -> list[object]:  # noqa: ANN001
    return [f"{STREETS.get(r.street_code, r.street_code)}（{r.street_code}）", r.community_code,
            r.rank_street, r.household_id, who.head_name if who else None,
            who.address if who else None, who.phone if who else None,
            f"{BANDS_ZH.get(r.band, r.band)}（{r.band}）", round(r.probability, 3),
            f"{cause.zh}（{cause.en}）" if cause else r.primary_cause,
            "；".join(r.top_factors_zh), _programmes(r.programmes),
            "是 yes" if r.allocated else "否 no",
            f"{STATUS_ZH.get(r.status, r.status)}（{r.status}）"]


def referral_workbook(items: Sequence[ReferralPublic],
                      identities: Mapping[str, IdentityPublic], *, as_of: str) -> bytes:
    """The referral list as an .xlsx file: Chinese headers, English beneath, one row each."""
    wb = Workbook()
    ws = wb.active
    ws.title = f"转介名单 {as_of}"
    ws.append([c[0] for c in COLUMNS])
    ws.append([c[1] for c in COLUMNS])
    for cell in (*ws[1], *ws[2]):
        cell.font = Font(bold=cell.row == 1, italic=cell.row == 2)
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    for r in items:
        ws.append(_row(r, identities.get(r.household_id)))
    for i, (_, _, width) in enumerate(COLUMNS, start=1):
        ws.column_dimensions[get_column_letter(i)].width = width
    ws.freeze_panes = "A3"
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()

"""What a simulation produced: rows per file, planted invalid rows, and calibration figures."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from rich.table import Table

#: headline calibration figures: key -> (label, format)
FIGURES: dict[str, tuple[str, str]] = {
    "mean_household_size": ("mean household size", "{:.2f}"),
    "share_aged_60_plus": ("residents aged 60+", "{:.1%}"),
    "share_lone_elderly": ("lone elderly households", "{:.1%}"),
    "share_non_local": ("non-local households", "{:.1%}"),
    "median_income_per_capita": ("median income/person, CNY", "{:,.0f}"),
    "true_need_rate": ("truly in need", "{:.2%}"),
    "assisted_rate": ("assisted", "{:.2%}"),
    "inclusion_error_share": ("assisted, not in need", "{:.1%}"),
    "exclusion_error_share": ("in need, not assisted", "{:.1%}"),
    "verified_households": ("households visited", "{:,.0f}"),
    "confirmed_rate_needy": ("confirmed | in need", "{:.1%}"),
    "confirmed_rate_not_needy": ("confirmed | not in need", "{:.1%}"),
    "visit_rate_needy_local": ("sought/month | needy local", "{:.1%}"),
    "visit_rate_needy_non_local": ("sought/month | needy non-local", "{:.1%}"),
    "visit_rate_needy_lone_elderly": ("sought/month | needy alone 60+", "{:.1%}"),
    "need_changed_share": ("need changed month to month", "{:.2%}"),
}


@dataclass
class SimulationSummary:
    """Rows written per table and snapshot, planted invalid rows, and calibration figures.

    Calibration figures are means over the snapshots (``verified_households``, confirmation
    and visit rates cover the whole run; "sought" visits follow an application or a referral,
    per needy, unassisted household and month); ``by_snapshot`` holds them month by month.
    """

    households: int
    months: int
    seed: int
    snapshots: list[str]
    rows: dict[str, dict[str, int]] = field(default_factory=dict)
    invalid: dict[str, dict[str, int]] = field(default_factory=dict)
    calibration: dict[str, float] = field(default_factory=dict)
    by_snapshot: dict[str, dict[str, float]] = field(default_factory=dict)

    def to_dict(self) -> dict:
        """Plain, JSON-ready dictionary."""
        return asdict(self)

    def table(self) -> Table:
        """A Rich table: rows and planted invalid rows per table, then calibration figures."""
        last = self.snapshots[-1] if self.snapshots else "-"
        t = Table(title=f"Simulated district: {self.households:,} households × {self.months} "
                        f"months (seed {self.seed})")
        t.add_column("table / figure")
        t.add_column("all months", justify="right")
        t.add_column(last, justify="right")
        t.add_column("invalid", justify="right")
        for name, per in self.rows.items():
            t.add_row(name, f"{sum(per.values()):,}", f"{per.get(last, 0):,}",
                      f"{sum(self.invalid.get(name, {}).values()):,}")
        t.add_section()
        for key, (label, fmt) in FIGURES.items():
            if key in self.calibration:
                t.add_row(label, fmt.format(self.calibration[key]), "", "")
        return t

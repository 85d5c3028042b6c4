"""Income dimension (收入): income, assets, arrears and income loss."""

from __future__ import annotations

import numpy as np

from assist.features.catalog import Dimension, MissingRule
from assist.features.indicators._spec import indicator
from assist.features.view import RATIO_CAP, SourceView, as_float, ratio
from assist.features.wording import Phrases

DIMENSION = Dimension(id="income", name_zh="收入", name_en="Income", order=1)


@indicator(
    name_zh="人均收入与低保标准之比", name_en="Income per member vs minimum-living line",
    unit="× line", direction=-1, cutoff=2.0, cause="income_loss", sources=("income", "persons"),
    sentence_en="income per member is {value:.2g}× the minimum-living line",
    sentence_zh="人均收入为低保标准的{value:.2g}倍",
    phrases=Phrases(missing_en="no income on record", missing_zh="无收入记录",
                    zero_en="no income declared", zero_zh="无申报收入", cap=RATIO_CAP,
                    over_en="income per member is more than {cap}× the minimum-living line",
                    over_zh="人均收入超过低保标准的{cap}倍"),
    missing=MissingRule("not_deprived", "income not reported: not counted as deprived"),
)
def income_per_capita_ratio(v: SourceView) -> np.ndarray:
    """Household monthly income per member as a multiple of the local minimum-living line."""
    return ratio(v.monthly_income, v.size * v.minimum_living_line)


@indicator(
    name_zh="人均金融资产（月数）", name_en="Financial assets per member (months of line)",
    unit="months", direction=-1, cutoff=24.0, cause="income_loss", sources=("income", "persons"),
    sentence_en="savings per member cover {value:.0f} months of the minimum-living line",
    sentence_zh="人均金融资产仅够{value:.0f}个月低保标准",
    phrases=Phrases(missing_en="no financial assets on record", missing_zh="无金融资产记录",
                    zero_en="no savings declared", zero_zh="无申报存款或金融资产"),
    missing=MissingRule("not_deprived", "assets not reported: not counted as deprived"),
)
def financial_assets_months(v: SourceView) -> np.ndarray:
    """Deposits and securities per member, in months of the minimum-living line."""
    inc = v.state("income")
    assets = v.first(v.codes(inc), as_float(inc["financial_assets"]))
    return ratio(assets, v.size * v.minimum_living_line, cap=1e6)


@indicator(
    name_zh="欠费月数", name_en="Months of rent or utility arrears",
    unit="months", direction=1, cutoff=1.0, cause="expenditure", sources=("income",),
    sentence_en="{value:.0f} months behind on rent or utilities",
    sentence_zh="拖欠房租或水电煤费用{value:.0f}个月",
    missing=MissingRule("not_deprived", "arrears not reported: not counted as deprived"),
)
def arrears_months(v: SourceView) -> np.ndarray:
    """Months of unpaid rent or utility bills."""
    inc = v.state("income")
    return v.first(v.codes(inc), as_float(inc["arrears_months"]))


@indicator(
    name_zh="近12个月收入降幅", name_en="Income drop over 12 months",
    unit="share", direction=1, cutoff=0.3, cause="income_loss", sources=("income",),
    sentence_en="income fell by {value:.0%} from its level in the past year",
    sentence_zh="收入较近一年高点下降{value:.0%}",
    phrases=Phrases(zero_en="income did not fall in the past year", zero_zh="近一年收入未下降"),
    missing=MissingRule("not_deprived", "no earlier income on record: no drop measured"),
)
def income_drop_12m(v: SourceView) -> np.ndarray:
    """Fall of this month's income below the highest monthly income of the past 12 months."""
    hist = v.history("income")
    earlier = hist.loc[(hist["snapshot"] < v.current_snapshot).to_numpy(dtype=bool)]
    peak = v.max(v.codes(earlier), as_float(earlier["monthly_income"]))
    now = v.monthly_income
    drop = np.where(peak > 0, 1.0 - now / np.where(peak > 0, peak, 1.0), 0.0)
    drop = np.clip(drop, 0.0, 1.0)
    drop[np.isnan(peak) | np.isnan(now)] = np.nan
    return drop

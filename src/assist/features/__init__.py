"""Source-table schemas, the indicator catalog, and source tables -> household features."""

from assist.features.build import build, dimension_profile
from assist.features.indicators import CATALOG

__all__ = ["CATALOG", "build", "dimension_profile"]

"""Page translations: the reports' :class:`~assist.reports.i18n.Translator` and catalog.

Pages and stored reports translate and format through the same code (:mod:`assist.reports.i18n`);
the app builds one translator per language at start-up (:func:`translators`).
"""

from __future__ import annotations

from assist.reports.i18n import (
                                 ATTRIBUTES,
                                 CATALOG_DIR,
                                 DEFAULT_LANGUAGE,
                                 DYNAMIC,
                                 FLAG_NAMES,
                                 GROUP_VALUES,
                                 LANGUAGES,
                                 LOCALES,
                                 N_,
                                 Translator,
                                 read_catalog,
                                 translators,
)

__all__ = ["ATTRIBUTES", "CATALOG_DIR", "DEFAULT_LANGUAGE", "DYNAMIC", "FLAG_NAMES",
           "GROUP_VALUES", "LANGUAGES", "LOCALES", "N_", "Translator", "read_catalog",
           "translators"]

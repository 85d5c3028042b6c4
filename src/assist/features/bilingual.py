"""A name in both page languages: :class:`Label` ``(zh, en)``.

Codes (distress causes), early-warning flags, household attributes and catalog dimensions are
named with a :class:`Label` rather than a bare pair, so no reader has to remember which
language comes first. (Not to be confused with :mod:`assist.features.labels`, the need
model's training labels.)
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Label:
    """A Chinese and an English name of one thing."""

    zh: str
    en: str

    @classmethod
    def same(cls, text: str) -> Label:
        """A label showing ``text`` in both languages (for codes nobody has named)."""
        return cls(text, text)

    def text(self, lang: str) -> str:
        """The name in ``lang`` (``zh``; anything else gets English)."""
        return self.zh if lang == "zh" else self.en

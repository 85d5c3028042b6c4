"""Precision social-assistance analytics: identify, intervene, manage, analyse."""

__version__ = "0.1.0"

"""Adapters that inspect incoming files (content type by python-magic)."""

from eprotocol.intake.sniffer import MagicSniffer

__all__ = ["MagicSniffer"]

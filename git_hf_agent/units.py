"""Byte sizes and rates as users write them (``64MiB``, ``5GiB``, ``25MB``).

Shared by ``git hf serve`` options, the agent and the CLI so that one spelling
works everywhere. Binary suffixes (KiB, MiB, GiB, TiB) are powers of 1024,
decimal ones (KB, MB, GB, TB) powers of 1000; a bare number is bytes.
"""

from __future__ import annotations

import re

_UNITS = {
    "": 1,
    "b": 1,
    "k": 1000, "kb": 1000, "m": 1000**2, "mb": 1000**2,
    "g": 1000**3, "gb": 1000**3, "t": 1000**4, "tb": 1000**4,
    "kib": 1024, "mib": 1024**2, "gib": 1024**3, "tib": 1024**4,
}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$")


def parse_size(text: str | int) -> int:
    """Return the number of bytes ``text`` denotes; ValueError with the accepted forms otherwise."""
    if isinstance(text, int):
        if text < 0:
            raise ValueError(f"size must not be negative: {text}")
        return text
    m = _SIZE.match(str(text))
    unit = m.group(2).lower() if m else None
    if not m or unit not in _UNITS:
        raise ValueError(
            f"not a size: {text!r} (write bytes, or a number with KB/MB/GB/TB or KiB/MiB/GiB/TiB, e.g. 64MiB)"
        )
    return int(float(m.group(1)) * _UNITS[unit])


def format_size(n: float) -> str:
    """Human form with binary units, e.g. ``6.0 GiB``; used in tables and messages."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")

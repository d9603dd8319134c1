"""How sizes and numbers read, the same in the CLI, the web pages and the emails."""

from __future__ import annotations

BYTE_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")


def binary_size(value: int) -> str:
    """1536 → '1.5 KiB', 196_608 → '192.0 KiB'. Binary units, as storage bills count them."""
    size, step = float(value), 0
    while abs(size) >= 1024 and step < len(BYTE_UNITS) - 1:
        size /= 1024
        step += 1
    return f"{int(size)} B" if step == 0 else f"{size:.1f} {BYTE_UNITS[step]}"


def number(value: float, *, grouped: bool = True) -> str:
    """A metric as people read it: 569.0 → '569' (counts are stored as floats), 0.973412 →
    '0.9734', tiny values in scientific notation. Not `grouped` where a comma already
    separates items (the CLI's `rows=12345, auc=0.9`)."""
    comma = "," if grouped else ""
    if isinstance(value, int) or value.is_integer():
        return f"{int(value):{comma}}"
    if value != 0 and abs(value) < 0.001:
        return f"{value:.3e}"
    return f"{value:{comma}.4f}".rstrip("0").rstrip(".")

"""Turning arbitrary Python values into stored text without ever raising."""

from __future__ import annotations

__all__ = ["tag_text", "unprintable"]


def unprintable(value: object) -> str:
    """The placeholder stored for a value whose ``str()`` and ``repr()`` both raise."""
    try:
        name = type(value).__name__
        if type(name) is not str:
            raise TypeError(name)
    except Exception:
        name = "object"
    return f"<unprintable {name}>"


def tag_text(value: object) -> str | None:
    """How a tag value is stored: ``None`` stays null, strings as they are, else ``str()``.

    A value whose ``str()`` raises falls back to ``repr()``; when that raises too (or
    either returns something that is not a string) it is stored as
    ``<unprintable TypeName>``, so one bad value never costs the other events of a flush.
    """
    if value is None or type(value) is str:
        return value  # type: ignore[return-value]
    for convert in (str, repr):
        try:
            text = convert(value)
        except Exception:
            continue
        if isinstance(text, str):
            return str.__str__(text)
    return unprintable(value)

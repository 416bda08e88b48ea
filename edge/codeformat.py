"""Dossier codes `<agency>-<yyMMdd>-<NNNN>` and how the daily sequence is shared between box and hub.

The box and the provincial hub both issue codes for the same agency and day, and may not be able
to talk when they do. They never collide because each owns its own part of the 4-digit sequence:
the box numbers 0001-7999, the hub (dossiers filed online at the provincial portal) 8000-9999.
"""

from __future__ import annotations

from edge.errors import EdgeError

BOX_FIRST, BOX_LAST = 1, 7999
HUB_FIRST, HUB_LAST = 8000, 9999


class SequenceExhaustedError(EdgeError):
    """No number is left in this issuer's part of the day's sequence."""

    status = 409


def format_code(agency_code: str, day: str, number: int) -> str:
    """Return the dossier code for an agency, a day (yyMMdd) and a sequence number."""
    return f"{agency_code}-{day}-{number:04d}"


def next_number(last: int, first: int, limit: int, day: str) -> int:
    """Return the number after `last` within [first, limit], or raise when the day's range is used up."""
    number = max(last + 1, first)
    if number > limit:
        raise SequenceExhaustedError(
            f"Đã hết số hồ sơ trong ngày {day} (tối đa {limit - first + 1} hồ sơ mỗi ngày).",
            f"No dossier numbers left for {day} (at most {limit - first + 1} a day).",
            code="sequence_exhausted",
        )
    return number

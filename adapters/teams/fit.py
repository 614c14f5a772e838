"""Teams' message size limit, counted as Teams counts it.

Teams refuses a bot message over about 100 KB (413 `MessageSizeTooBig`), measuring the whole
payload encoded as UTF-16, and advises staying within 80 KB. So sizes here are UTF-16 bytes of
the JSON as Teams reads it (characters, not `\\u` escapes): a CJK character costs 2, an emoji
4. A card gets `CARD_BUDGET` and leaves the rest of the 80 KB to the activity around it.
"""

from __future__ import annotations

import json
from typing import Any

MESSAGE_LIMIT = 80 * 1024
"""UTF-16 bytes of one outgoing activity, as Microsoft advises (the hard limit is ~100 KB)."""
CARD_BUDGET = 70 * 1024
"""UTF-16 bytes of one card: the activity's ids, addresses and summary take the rest."""
TEXT_UNITS = 20_000
"""UTF-16 code units of a plain-text message (a sentence that quotes a reason or a comment)."""
SUMMARY_UNITS = 300
"""UTF-16 code units of a card message's summary (what notifications show)."""
LINE_UNITS = 700
"""UTF-16 code units of one listed line: a 2,000-character reason is cut short in a list (the
approval card shows it whole), so a long list shows more of its lines."""


def utf16_size(value: Any) -> int:
    """UTF-16 bytes of `value` as JSON."""
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-16-le"))


def cut(text: str, units: int) -> str:
    """At most `units` UTF-16 code units, ending in "…" when cut; never half an emoji."""
    if len(text.encode("utf-16-le")) // 2 <= units:
        return text
    kept, used = [], 1  # the "…" takes one unit
    for char in text:
        width = 2 if ord(char) > 0xFFFF else 1
        if used + width > units:
            break
        kept.append(char)
        used += width
    return "".join(kept) + "…"

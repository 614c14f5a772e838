"""The Teams app package: ``manifest.json`` (schema v1.29) plus the two icons, zipped for upload.

The manifest and the icons are made here, in code, so an installed ``oncall-access`` needs no
data files; ``manifest/teams/`` in the repository holds the same output for placeholder values
(a test keeps the two equal). Icons come from a tiny PNG writer (zlib + struct): no image library.
"""

from __future__ import annotations

import io
import json
import struct
import uuid
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

MANIFEST_VERSION = "1.0.0"  # bump when the manifest changes, so Teams takes the new one
SCHEMA_URL = (
    "https://developer.microsoft.com/en-us/json-schemas/teams/v1.29/MicrosoftTeams.schema.json"
)
PLACEHOLDER_APP_ID = "00000000-0000-0000-0000-000000000000"
PLACEHOLDER_BASE_URL = "https://oncall-access.example.com"
ACCENT = (0x1F, 0x4E, 0x79)
COLOR_SIZE, OUTLINE_SIZE = 192, 32

COMMANDS = (
    ("access", 'The whole grammar, e.g. /access request prod-db 2h "INC-4411 failover"'),
    ("request", "request RESOURCE [DURATION] [REASON...]: ask for access"),
    ("list", "What you may request right now, and why or why not"),
    ("mine", "Your requests and active grants, with time left"),
    ("pending", "Requests waiting for your approval"),
    ("approve", "approve ID [COMMENT...]"),
    ("deny", "deny ID [REASON...]"),
    ("extend", "extend ID DURATION: more time on an active grant"),
    ("revoke", "revoke ID: give back access early"),
    ("oncall", "Who is on call now, and until when"),
    ("status", "Admins: provider health and sync status"),
    ("help", "The commands, with examples"),
)


def teams_app_id(bot_app_id: str) -> str:
    """A stable Teams app id per bot registration: re-uploading updates the same app."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"oncall-access:teams:{bot_app_id.lower()}"))


def domain_of(base_url: str) -> str:
    parts = urlsplit(base_url)
    if parts.scheme != "https" or not parts.hostname:
        raise ValueError(f"--base-url must be an https URL, such as {PLACEHOLDER_BASE_URL}")
    return parts.hostname


def manifest(bot_app_id: str, base_url: str) -> dict[str, Any]:
    """The manifest for the bot registered as ``bot_app_id``, served at ``base_url``."""
    uuid.UUID(bot_app_id)  # a Microsoft App ID is a GUID; ValueError otherwise
    base = base_url.rstrip("/")
    domain = domain_of(base)
    return {
        "$schema": SCHEMA_URL,
        "manifestVersion": "1.29",
        "version": MANIFEST_VERSION,
        "id": teams_app_id(bot_app_id),
        "developer": {
            "name": "oncall-access",
            "websiteUrl": base,
            "privacyUrl": base,
            "termsOfUseUrl": base,
        },
        "name": {"short": "On-call Access", "full": "On-call Access: just-in-time access"},
        "description": {
            "short": "Just-in-time access, approved by whoever holds the pager.",
            "full": (
                "Ask for time-bounded access with /access request RESOURCE DURATION REASON. "
                "The bot checks you against the on-call roster (PagerDuty, Opsgenie, Jira "
                "Service Management or a roster file), asks the approvers who are on call now "
                "with an Adaptive Card, grants the access for a bounded time, takes it back "
                "when the time is up, and records every step in a verifiable audit trail."
            ),
        },
        "icons": {"color": "color.png", "outline": "outline.png"},
        "accentColor": "#{:02X}{:02X}{:02X}".format(*ACCENT),
        "bots": [
            {
                "botId": bot_app_id,
                "scopes": ["personal", "team", "groupChat"],
                "isNotificationOnly": False,
                "supportsFiles": False,
                "supportsCalling": False,
                "supportsVideo": False,
                # Manifest 1.29: without this, commands with the slash trigger are not offered
                # in the `/` list (the schema: "Required for slash command support").
                "supportsTargetedMessages": True,
                "commandLists": [
                    {
                        "scopes": ["personal", "team", "groupChat"],
                        "triggers": ["slash", "mention"],
                        "commands": [
                            {"title": title, "description": description}
                            for title, description in COMMANDS
                        ],
                    }
                ],
            }
        ],
        "validDomains": [domain],
    }


def manifest_json(bot_app_id: str, base_url: str) -> str:
    return json.dumps(manifest(bot_app_id, base_url), indent=2, ensure_ascii=False) + "\n"


def package_files(bot_app_id: str, base_url: str) -> dict[str, bytes]:
    return {
        "manifest.json": manifest_json(bot_app_id, base_url).encode(),
        "color.png": color_icon(),
        "outline.png": outline_icon(),
    }


def package_zip(files: dict[str, bytes]) -> bytes:
    """The upload: the three files at the root of the zip, as Teams expects them."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in ("manifest.json", "color.png", "outline.png"):
            info = zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, files[name])
    return buffer.getvalue()


def write_package(out: Path, bot_app_id: str, base_url: str) -> Path:
    """Write manifest.json, the icons and ``oncall-access-teams.zip`` into ``out``."""
    files = package_files(bot_app_id, base_url)
    out.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        (out / name).write_bytes(content)
    archive = out / "oncall-access-teams.zip"
    archive.write_bytes(package_zip(files))
    return archive


# -- icons -------------------------------------------------------------------------------------

Pixel = tuple[int, int, int, int]


def _key(x: float, y: float) -> bool:
    """A key, in a unit square: a ring (the bow), a shaft and two teeth."""
    dx, dy = x - 0.30, y - 0.50
    if 0.11**2 <= dx * dx + dy * dy <= 0.25**2:
        return True
    if 0.52 <= x <= 0.95 and 0.44 <= y <= 0.56:
        return True
    return (0.72 <= x <= 0.80 or 0.86 <= x <= 0.95) and 0.56 <= y <= 0.72


def _render(
    size: int, pixel: Callable[[float], Pixel], inset: float, samples: int = 4
) -> list[list[Pixel]]:
    """Rows of RGBA pixels; ``pixel(coverage)`` colours a pixel by how much of it is key."""
    span = 1.0 - 2 * inset
    rows = []
    for row in range(size):
        line = []
        for col in range(size):
            hits = 0
            for sy in range(samples):
                for sx in range(samples):
                    u = ((col + (sx + 0.5) / samples) / size - inset) / span
                    v = ((row + (sy + 0.5) / samples) / size - inset) / span
                    hits += 0.0 <= u <= 1.0 and 0.0 <= v <= 1.0 and _key(u, v)
            line.append(pixel(hits / (samples * samples)))
        rows.append(line)
    return rows


def color_icon() -> bytes:
    """192×192: the white key in the middle 96×96 on the accent colour."""

    def pixel(coverage: float) -> Pixel:
        r, g, b = (round(c + (255 - c) * coverage) for c in ACCENT)
        return (r, g, b, 255)

    return png(_render(COLOR_SIZE, pixel, inset=48 / COLOR_SIZE))


def outline_icon() -> bytes:
    """32×32: the key in white on a fully transparent background, no padding."""

    def pixel(coverage: float) -> Pixel:
        return (255, 255, 255, round(255 * coverage)) if coverage else (0, 0, 0, 0)

    return png(_render(OUTLINE_SIZE, pixel, inset=0.0))


def png(rows: list[list[Pixel]]) -> bytes:
    """An 8-bit RGBA PNG (no filtering: icons are tiny)."""
    height, width = len(rows), len(rows[0])
    raw = b"".join(b"\x00" + bytes(v for p in row for v in p) for row in rows)

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )


if __name__ == "__main__":  # python -m adapters.teams.package DIR: the repository's copy
    import sys

    target = Path(sys.argv[1] if len(sys.argv) > 1 else "manifest/teams")
    target.mkdir(parents=True, exist_ok=True)
    for name, content in package_files(PLACEHOLDER_APP_ID, PLACEHOLDER_BASE_URL).items():
        (target / name).write_bytes(content)

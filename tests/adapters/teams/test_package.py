"""The Teams app package: the manifest validates against the v1.29 schema, the icons are the
sizes and colours Teams asks for, the zip is ready to upload, and the repository's copy in
``manifest/teams/`` is what the code makes."""

from __future__ import annotations

import argparse
import json
import struct
import zipfile
import zlib
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft7Validator

from adapters.teams.package import (
    PLACEHOLDER_APP_ID,
    PLACEHOLDER_BASE_URL,
    package_files,
    teams_app_id,
)
from bot.commands_manifest_teams import teams as manifest_teams
from bot.settings import Settings
from tests.reference_files import REFERENCE

ROOT = Path(__file__).parents[3]
SCHEMA = REFERENCE / "teams" / "MicrosoftTeams.schema.json"
APP_ID = "3f2a9c1e-5b7d-4e8f-9a0b-1c2d3e4f5a6b"


@pytest.fixture(scope="module")
def schema() -> Draft7Validator:
    # Draft 7, not the draft 4 the file declares: only draft 7 enforces manifestVersion's const.
    return Draft7Validator(json.loads(SCHEMA.read_text()))


def _settings(**values: Any) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def _pixels(data: bytes) -> tuple[int, int, list[list[tuple[int, ...]]]]:
    """Decode the PNGs written here (8-bit RGBA, filter 0 on every row)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    offset, chunks = 8, {}
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind = data[offset + 4 : offset + 8]
        chunks[kind] = chunks.get(kind, b"") + data[offset + 8 : offset + 8 + length]
        offset += 12 + length
    width, height, depth, color_type = struct.unpack(">IIBB", chunks[b"IHDR"][:10])
    assert (depth, color_type) == (8, 6)
    raw = zlib.decompress(chunks[b"IDAT"])
    stride = 1 + 4 * width
    rows = []
    for y in range(height):
        line = raw[y * stride : (y + 1) * stride]
        assert line[0] == 0
        rows.append([tuple(line[1 + 4 * x : 5 + 4 * x]) for x in range(width)])
    return width, height, rows


def test_committed_manifest_validates_against_the_v1_29_schema(schema: Draft7Validator) -> None:
    committed = json.loads((ROOT / "manifest" / "teams" / "manifest.json").read_text())

    assert [e.message for e in schema.iter_errors(committed)] == []
    assert committed["manifestVersion"] == "1.29"
    [bot] = committed["bots"]
    [command_list] = bot["commandLists"]
    assert command_list["triggers"] == ["slash", "mention"]
    assert bot["supportsTargetedMessages"] is True  # slash triggers are offered only with it
    assert command_list["commands"][0]["title"] == "access"


def test_committed_files_are_what_the_code_makes() -> None:
    made = package_files(PLACEHOLDER_APP_ID, PLACEHOLDER_BASE_URL)

    for name, content in made.items():
        assert (ROOT / "manifest" / "teams" / name).read_bytes() == content, (
            f"manifest/teams/{name} is out of date: python -m adapters.teams.package"
        )


def test_icons_are_the_sizes_and_colours_teams_asks_for() -> None:
    files = package_files(PLACEHOLDER_APP_ID, PLACEHOLDER_BASE_URL)

    width, height, color = _pixels(files["color.png"])
    assert (width, height) == (192, 192)
    assert color[0][0] == (0x1F, 0x4E, 0x79, 255)  # the accent colour
    assert all(p[3] == 255 for row in color for p in row)
    width, height, outline = _pixels(files["outline.png"])
    assert (width, height) == (32, 32)
    pixels = [p for row in outline for p in row]
    assert all(p == (0, 0, 0, 0) or p[:3] == (255, 255, 255) for p in pixels)
    assert any(p[3] == 255 for p in pixels) and any(p[3] == 0 for p in pixels)


async def test_manifest_command_fills_in_the_app_id_and_domain(
    tmp_path: Path, schema: Draft7Validator, capsys: pytest.CaptureFixture[str]
) -> None:
    args = argparse.Namespace(base_url="https://access.acme.test/", out=tmp_path, app_id=None)

    code = await manifest_teams(_settings(MICROSOFT_APP_ID=APP_ID), args)

    assert code == 0
    written = json.loads((tmp_path / "manifest.json").read_text())
    assert [e.message for e in schema.iter_errors(written)] == []
    assert written["bots"][0]["botId"] == APP_ID
    assert written["id"] == teams_app_id(APP_ID) != APP_ID
    assert written["validDomains"] == ["access.acme.test"]
    assert written["developer"]["websiteUrl"] == "https://access.acme.test"
    with zipfile.ZipFile(tmp_path / "oncall-access-teams.zip") as archive:
        assert sorted(archive.namelist()) == ["color.png", "manifest.json", "outline.png"]
        assert json.loads(archive.read("manifest.json")) == written
    assert "https://access.acme.test/api/messages" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("app_id", "base_url", "complaint"),
    [
        (None, "https://access.acme.test", "MICROSOFT_APP_ID"),
        ("not-a-guid", "https://access.acme.test", "MICROSOFT_APP_ID"),
        (APP_ID, "http://access.acme.test", "https"),
        (APP_ID, "access.acme.test", "https"),
    ],
)
async def test_manifest_command_refuses_bad_input_with_exit_2(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    app_id: str | None,
    base_url: str,
    complaint: str,
) -> None:
    args = argparse.Namespace(base_url=base_url, out=tmp_path / "out", app_id=app_id)

    assert await manifest_teams(_settings(), args) == 2
    assert complaint in capsys.readouterr().err
    assert not (tmp_path / "out").exists()

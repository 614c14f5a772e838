"""Where the vendors' published specs, schemas and samples live inside the repository
(`tests/reference/`, each with its licence or source noted there), so a clone tests on its own."""

from pathlib import Path

REFERENCE = Path(__file__).resolve().parent / "reference"

"""golang-migrate's own test fixture: versions 1, 3, 4, 5, 7; 3 has no down file, 5 has no up file.

    |  1  |  -  |  3  |  4  |  5  |  -  |  7  |
    | u d |  -  | u   | u d |   d |  -  | u d |

Each body appends its name to ``migration_log`` so a test can read back exactly
which migrations ran, in order (golang-migrate's ``equalDbSeq``).
"""

from __future__ import annotations

from pathlib import Path

from support import write_migrations

STUB_BODIES = {
    "1_f.up.sql": "CREATE 1",
    "1_f.down.sql": "DROP 1",
    "3_f.up.sql": "CREATE 3",
    "4_f.up.sql": "CREATE 4",
    "4_f.down.sql": "DROP 4",
    "5_f.down.sql": "DROP 5",
    "7_f.up.sql": "CREATE 7",
    "7_f.down.sql": "DROP 7",
}


def write_stub_migrations(folder: Path) -> Path:
    return write_migrations(
        folder,
        {name: f"INSERT INTO migration_log (body) VALUES ('{body}');\n" for name, body in STUB_BODIES.items()},
    )

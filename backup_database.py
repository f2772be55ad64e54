#!/usr/bin/env python3
"""AFIRGen backup service: entry point (`python3 backup_database.py --help`).

Without arguments it runs one backup of fir_db (MySQL) and sessions.db (SQLite); see the README.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from afirgen_backup.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())

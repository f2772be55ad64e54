"""AFIRGen backup service: verified backups of the FIR database (MySQL) and sessions.db (SQLite)."""

__version__ = "1.0.0"
TOOL_NAME = "afirgen-backup"

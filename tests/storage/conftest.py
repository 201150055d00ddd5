"""Storage tests: the store fixtures (SQLite and a real PostgreSQL) are in tests/conftest.py."""

"""SQL storage for requests, audit trail, roster snapshots, leases and connections.

SQLAlchemy 2 async; SQLite (aiosqlite) by default, PostgreSQL (asyncpg) with the same code.
"""

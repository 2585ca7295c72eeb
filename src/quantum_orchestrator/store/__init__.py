"""Persistence: SQLAlchemy tables, repositories, SQLite and PostgreSQL specifics, migrations."""

"""Storage: one SQLAlchemy Core schema for SQLite (embedded default) and PostgreSQL."""

"""The store: typed models, the one module with queries, and Alembic migrations."""

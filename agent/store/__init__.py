"""The store: typed models, queries by subject (queries/, composed by repo.Repo), Alembic migrations."""

"""The store's queries, one module per subject, each a mixin over `base.Queries`.

`agent.store.repo.Repo` composes them into the one class callers use (as Radicale's
storage composes its collection from parts), so a subject grows in its own module
without any caller learning where a query lives.
"""

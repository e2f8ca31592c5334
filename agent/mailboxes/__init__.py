"""Mailbox backends: where inbound email comes from (maildir, imap, graph, exchange).

Their Protocol and shared types are in `base`; `polling` is what the HTTP-API backends
share. Each backend module has a `from_config`, and agent.backends picks one by the
`[mailbox] backend` name.
"""

"""Transports deliver a composed email (file, smtp, graph, exchange).

The Protocol and its result are in `base`; `sent_copy` wraps any transport to keep a copy
in a Sent folder. Each backend module has a `from_config`; agent.backends picks one by the
`[transport] backend` name.
"""

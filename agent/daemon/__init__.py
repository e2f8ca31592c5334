"""The daemon: `runner` (the loop, waits, signals, supervision, leases) runs passes over `ingest`
(mail, calendar and timers turned into items) through `work` (one transaction an item, and
quarantine); `waiting` waits on several mailboxes at once. What the daemon loads from files is
agent.runtime; what it does with an item is agent.handling.
"""

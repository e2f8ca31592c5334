"""Reaching the servers the backends talk to: TLS contexts, OAuth2 tokens, Microsoft Graph, EWS accounts.

Named for what it does rather than for Microsoft: the Graph client and the exchangelib
account serve the Microsoft 365 and Exchange backends, but the verifying TLS context and
the OAuth2 token renewal serve IMAP, SMTP and CalDAV as well (Gmail among them). No
backend lives here; the mailboxes, calendars and transports import what they need.
"""

"""Reading email as it arrives: raw RFC 5322 bytes to an InboundMessage, apart from where the bytes came from.

`parse` builds the message from `text` (charsets, headers, bodies), `html_text`, `quoting`
(quoted history, inline forwards), `addresses` and `dates`; `classify` says what sort of
message it is; `authenticity` whether an internal sender is real; `parse_ahead` parses a
backlog in a helper process. Every mailbox backend's bytes come through here.
"""

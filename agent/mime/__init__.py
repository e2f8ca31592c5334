"""Reading email as it arrives: raw RFC 5322 bytes to an InboundMessage, apart from where the bytes came from.

`parse` builds the message from `text` (charsets, headers, bodies), `html_text`, `quoting`
(quoted history, inline forwards), `addresses` and `dates`; `classify` says what sort of
message it is; `authenticity` whether an internal sender is real; `parse_ahead` parses a
backlog in a helper process; `skeleton` is what the parser is given of a message, within
`limits` (what a hostile message may cost, and what becomes of the rest). Every mailbox
backend's bytes come through here.
"""

"""Reading a person's reply the way a person would: what they wrote, and what they meant.

`reader` keeps the words written in this message (no quoted history, no mobile footer, no
signature); `intent` says whether they approve, cancel or say something else, by phrase tables
kept as data; `edits` finds the documented forms of an edited text; `review` puts the three
together for an answer to a review request; `choice` reads an answer to "which deal?".
The forms are documented in docs/replies.md.
"""

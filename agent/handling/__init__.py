"""Handling one input inside one transaction: record it, match it, run the rules, queue what follows.

One module per job: `cause` (what started the work), `runner` (the rules: dispatch, stage
moves, tasks, approvals), `enqueue` (emails, notices, questions, review requests),
`assign` (a person said which deal), and one module per kind of input: `mail/` (an
ordered list of named steps), `meetings`, `reviews` (answers to review requests),
`timers`, `notices` and `digests`. `wiring` builds them and hands each its collaborators.
"""

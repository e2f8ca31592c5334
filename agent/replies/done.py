"""Whether a client's reply to a task email says the task is done: "Done", "Erledigt!", "C'est fait, merci".

Read like every short answer (agent.replies.intent): greetings, thanks, sign-offs and the
sender's name aside, every clause left must say "done" (or be a plain "yes"/"ok" beside it).
Anything more — "done, but 3 users are missing", "not done yet", a question — is no "done":
the task stays open and the CSM reads the reply (it reaches them like any client message).
"""

from __future__ import annotations

from agent.replies.intent import meant_clauses

DONE_PHRASES = frozenset(
    {
        # English
        "done", "all done", "it's done", "its done", "it is done", "this is done", "that's done",
        "thats done", "task done", "done now", "now done", "completed", "complete", "it's complete",
        "it is complete", "finished", "all finished", "it's finished", "it is finished", "sent",
        "uploaded", "ticked off",
        # German
        "erledigt", "ist erledigt", "alles erledigt", "schon erledigt", "habe ich erledigt",
        "hab ich erledigt", "fertig", "ist fertig", "gemacht", "ist gemacht", "erledigt danke",
        # French
        "fait", "c'est fait", "c est fait", "ceci est fait", "terminé", "termine", "c'est terminé",
        "c'est termine", "tout est fait", "voilà c'est fait", "voila c'est fait", "réalisé", "realise",
    }
)  # fmt: skip
# A plain yes beside the "done" ("Yes, done.") changes nothing; alone it is no "done".
BESIDE = frozenset({"yes", "yep", "ok", "okay", "ja", "oui", "voilà", "voila", "so", "hiermit"})
_DONE = frozenset(tuple(p.split()) for p in DONE_PHRASES)
_LONGEST = max(len(p) for p in _DONE)


def says_done(said: str, sender_name: str = "") -> bool:
    """Whether what the person said (a reply without quotes and signature) is a plain "done"."""
    clauses = meant_clauses(said, sender_name)
    if not clauses or "?" in said:  # "Done?" asks; it does not tell
        return False
    done = False
    for clause in clauses:
        words = tuple(w for w in clause.split() if w not in BESIDE)
        if not words:
            continue
        if not _made_of_done(words):
            return False
        done = True
    return done


def _made_of_done(words: tuple[str, ...]) -> bool:
    """Whether the words are "done" phrases one after another ("done erledigt" from a bilingual team)."""
    reachable = [True] + [False] * len(words)
    for start in range(len(words)):
        if reachable[start]:
            for size in range(1, min(_LONGEST, len(words) - start) + 1):
                if words[start : start + size] in _DONE:
                    reachable[start + size] = True
    return reachable[-1]

"""Weighing the layers: which deal, how sure, and when to ask a person instead.

Layers run in order, strongest first. A later layer only narrows what an earlier one found, so
two deals of one client are told apart by, say, the deal name in the subject. Three things make
the matcher doubt rather than guess, because a message on the wrong deal is the worst outcome
(it moves the wrong deal, and a recap goes to the wrong client):

- A closed deal (in a final stage: won, lost, churned) takes no new mail on the strength of its
  people, domain or name: the client's new deal would otherwise compete with every old one. Only
  a layer that names a deal outright (its thread, reply token, tag, a person's command) gives a
  message to a closed deal. When nothing but closed deals fits, the message waits for a person.
- When a layer that names a deal (the thread, say) points one way and the people on the message,
  or a reply token or tag, point only to another deal, a person is asked which one it is.
- When the candidates cannot be narrowed to one, a person is asked.

A person's `deal ...` command settles it: it overrides the thread and nothing doubts it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from agent.matching.directory import Directory
from agent.matching.layers import Found

Look = Callable[[Directory], Found]
Closed = Callable[[set[int]], set[int]]  # which of these deals are closed

# How sure each layer is when it alone decides: our own thread and token are
# near-certain, a domain shared by several people less so, a name in a subject least.
CONFIDENCE = {
    "thread": 0.99,
    "reply-token": 0.99,
    "subject-tag": 0.97,
    "body-tag": 0.9,
    "command": 1.0,
    "contact": 0.9,
    "client-domain": 0.7,
    "deal-name": 0.6,
}


@dataclass(frozen=True)
class Match:
    deal_id: int | None
    strategy: str  # the layer that decided, or "" when unmatched
    reason: str
    candidates: tuple[int, ...] = ()
    confidence: float = 0.0  # how sure the deciding layer is, 0..1

    @property
    def ambiguous(self) -> bool:
        return self.deal_id is None and len(self.candidates) > 1


@dataclass(frozen=True)
class Layer:
    name: str
    look: Look
    names: bool = False  # names a deal outright (thread, token, tag): may give mail to a closed deal
    # What the layer speaks for when it disagrees with a named deal; layers that share it are one
    # witness (a participant's contact and domain): it doubts only if none of them agrees.
    doubts: str = ""
    final: bool = False  # a person said which deal


@dataclass
class _Weighing:
    candidates: set[int] | None = None
    named: bool = False  # the candidates come from a layer that names its deal
    settled: bool = False  # a person said which deal
    decided_by: str = ""
    reasons: list[str] = field(default_factory=list)
    against: dict[str, list[Found]] = field(default_factory=dict)  # witnesses pointing only elsewhere
    agree: set[str] = field(default_factory=set)  # witnesses that fit the named deal
    closed: set[int] = field(default_factory=set)  # closed deals set aside
    closed_reasons: list[str] = field(default_factory=list)


def decide(directory: Directory, layers: Sequence[Layer], closed: Closed | None = None) -> Match:
    w = _Weighing()
    for layer in layers:
        single = w.candidates is not None and len(w.candidates) == 1
        may_doubt = w.named and bool(layer.doubts) and not w.settled and layer.doubts not in w.agree
        if single and not (layer.final or may_doubt):
            continue  # it could only narrow one deal to itself, and not doubt it: spare the look-up
        found, reason = layer.look(directory)
        if found and closed is not None and not layer.names:
            named = w.candidates if w.named and w.candidates else set()
            shut = closed(found) - named
            if shut:
                found = found - shut
                w.closed |= shut
                w.closed_reasons.append(reason)
        if not found:
            continue
        if layer.final:
            narrowed = ((w.candidates or set()) & found) or found  # it overrides a thread it disagrees with
            w.settled = True
        else:
            narrowed = found if w.candidates is None else w.candidates & found
            if layer.doubts and w.named and not w.settled:
                if narrowed:
                    w.agree.add(layer.doubts)
                else:
                    w.against.setdefault(layer.doubts, []).append((found, reason))
        if not narrowed:
            continue  # it points elsewhere: it cannot narrow (and doubts, when it may)
        if narrowed != w.candidates:
            w.reasons.append(reason)
            w.decided_by = layer.name
        w.candidates = narrowed
        w.named = w.named or layer.names
    return _verdict(w)


def _verdict(w: _Weighing) -> Match:
    said = "; ".join(w.reasons)
    doubts = [] if w.settled else [g for g in w.against if g not in w.agree]
    if w.candidates and doubts:
        elsewhere = set().union(*(found for g in doubts for found, _ in w.against[g]))
        but = "; ".join(reason for g in doubts for _, reason in w.against[g])
        return Match(None, "", f"doubtful: {said}, but {but}", tuple(sorted(w.candidates | elsewhere)))
    aside = _closed_note(w.closed)
    if w.candidates and len(w.candidates) == 1:
        # a deal its thread or token named needs no word about the closed deals its people also have
        reason = f"{said}; {aside}" if w.closed and not w.named else said
        deal = next(iter(w.candidates))
        return Match(deal, w.decided_by, reason, confidence=CONFIDENCE[w.decided_by])
    if w.candidates:
        return Match(None, "", "ambiguous: " + said, tuple(sorted(w.candidates)))
    if w.closed:
        why = "; ".join(w.closed_reasons)
        return Match(None, "", f"only closed deals fit ({why}): {aside}", tuple(sorted(w.closed)))
    return Match(None, "", "no deal token, thread, contact, client domain or deal name matched")


def _closed_note(closed: set[int]) -> str:
    ids = ", ".join(str(i) for i in sorted(closed))
    if len(closed) == 1:
        return f"deal {ids} is closed and takes new mail only through its thread or token"
    return f"deals {ids} are closed and take new mail only through their thread or token"

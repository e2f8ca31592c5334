"""Survey answers: the score read from the top of a client's reply to the survey, on the survey's own scale,
stored per contact with the comment that follows it; and a pipeline's own command word.

Only a reply to the survey counts: one in its thread, or, when the client's mail program lost the
thread, one sent through the deal's token by a contact the survey went to. "3 users still cannot
log in" is no score anywhere, and "9/10" on a 1-5 survey is brought to the survey's scale with
the original words kept; a bare "9" there cannot be placed, so the client is asked back once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from agent.domain import Address
from agent.handling.enqueue import Enqueuer
from agent.handling.mail.pipeline import MailItem, Passed
from agent.handling.runner import RuleRunner
from agent.matching import TAG, Party
from agent.pipeline.engine import Trigger
from agent.store import models as m
from agent.store.queries.csat import SURVEY

ASK_BACK = "survey-again"  # the template that asks a client for a score on the survey's scale
COMMENT_LIMIT = 2000

_NUMBER_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"]
_LEAD = (
    r"\s*(?:(?:my\s+)?(?:rating|score)\s*(?:is|:)?\s*|i'?d\s+say\s+|i\s+give\s+(?:it\s+|you\s+)?(?:a\s+)?)?"
)
_VALUE = r"(?P<value>\d{1,3}|" + "|".join(_NUMBER_WORDS) + r")\b(?![.,]\d)"
_OUT_OF = r"(?:\s*(?:/|out\s+of|of)\s*(?P<out_of>\d{1,3}|five|ten)\b)?"
_UNIT = r"(?:\s*(?:stars?|points?)\b)?"
# What may follow a score: the end, a line break, punctuation, or a word that starts a reason.
# "3 users still cannot log in" is a sentence about three users, not a rating.
_END = r"(?=[ \t]*(?:\n|\Z|[.!,;:)\-\u2013\u2014]|(?:because|since|but|thanks|thank)\b))"
_SCORE = re.compile(_LEAD + _VALUE + _OUT_OF + _UNIT + _END, re.IGNORECASE)
_SCALE = re.compile(
    r"scale\s+(?:from\s+|of\s+)?(\d{1,3})\b.{0,60}?\bto\s+(\d{1,3})\b", re.IGNORECASE | re.DOTALL
)


@dataclass(frozen=True)
class Scale:
    low: int = 1
    high: int = 5

    def __str__(self) -> str:
        return f"{self.low}-{self.high}"


DEFAULT_SCALE = Scale(1, 5)  # the shipped survey's, when its text does not say


@dataclass(frozen=True)
class Reading:
    """What the top of a reply says: a number, the scale it names ("/10"), and the words after it."""

    value: int
    out_of: int | None
    original: str  # the words the number was read from, as written: "9/10", "Four"
    comment: str

    def on(self, scale: Scale) -> int | None:
        """The score on the survey's scale; None when it cannot be placed there (ask back).

        An answer on a scale of its own ("9/10") is brought to the survey's, rounding half up;
        a bare number outside the survey's scale could be on any scale, so it is not guessed.
        """
        if self.out_of is None or self.out_of == scale.high:
            return self.value if scale.low <= self.value <= scale.high else None
        if self.out_of < 2 or self.value > self.out_of:
            return None
        score = (2 * self.value * scale.high + self.out_of) // (2 * self.out_of)
        return min(scale.high, max(scale.low, score))


def read_score(text: str) -> Reading | None:
    """The rating opening a reply (digits or words, maybe "out of" a scale), and what follows it."""
    found = _SCORE.match(text or "")
    if not found:
        return None
    value, out_of = found.group("value").lower(), (found.group("out_of") or "").lower()
    rest = text[found.end() :].lstrip(" \t.!,;:)-\u2013\u2014").strip()
    return Reading(
        int(value) if value.isdigit() else _NUMBER_WORDS.index(value),
        (int(out_of) if out_of.isdigit() else _NUMBER_WORDS.index(out_of)) if out_of else None,
        text[found.start("value") : found.end()].strip(),
        rest[:COMMENT_LIMIT],
    )


def csat_score(text: str) -> int | None:
    """The number opening a survey reply, as written (1-5 or 0-10, digits or words): "5", "4/5", "Rating: 3".

    Only at the start, and only standing as a rating: "we have 3 more questions" and "3 users
    still cannot log in" are not scores.
    """
    reading = read_score(text)
    return reading.value if reading else None


def scale_of(survey_text: str) -> Scale:
    """The scale the survey's own text states ("on a scale from 1 (not at all) to 5 (very)")."""
    found = _SCALE.search(survey_text or "")
    if not found or int(found.group(1)) >= int(found.group(2)):
        return DEFAULT_SCALE
    return Scale(int(found.group(1)), int(found.group(2)))


def first_word(text: str) -> str:
    """The reply's first word, lower case: a word of the pipeline's own for `when: {command: WORD}`."""
    found = re.match(r"\s*([A-Za-z][A-Za-z-]*)", text or "")
    return found.group(1).lower() if found else ""


class SurveyAnswer:
    """A client's reply to the survey: its score stored per contact, and `csat_received` run.

    It never takes the message: the matched step still logs it and runs its rules.
    """

    name = "survey-answer"

    def __init__(self, runner: RuleRunner, enqueuer: Enqueuer, party: Party) -> None:
        self.runner = runner
        self.enqueuer = enqueuer
        self.party = party

    def __call__(self, item: MailItem) -> Passed:
        match, msg, repo = item.match, item.msg, item.repo
        if match is None or match.deal_id is None or item.direction != "inbound" or not msg.sender:
            return Passed("not a client's message on a deal")
        reading = read_score(msg.new_text)  # read first: cheaper than asking the store about surveys
        if reading is None:
            return Passed("no score at its top")
        deal = repo.deal(match.deal_id)
        assert deal is not None
        survey = self._survey(item, deal)
        if survey is None:
            return Passed(f"'{reading.original}' does not answer a survey")
        scale = scale_of(survey.body_text)
        score = reading.on(scale)
        if score is None:
            self._ask_back(item, deal, reading, scale)
            return Passed(f"'{reading.original}' is outside the survey's scale {scale}")
        self._record(item, deal, survey, reading, scale, score)
        return Passed(f"survey answered: {score} on {scale}")

    def _survey(self, item: MailItem, deal: m.Deal) -> m.OutboxEmail | None:
        """The survey this reply answers: the one its thread names, else the one sent to the sender.

        A reply in the thread of another of our emails (a recap, the completion) answers that one;
        one to our question asked back answers the survey the sender was sent.
        """
        msg, repo, sender = item.msg, item.repo, item.sender.lower()
        cited = repo.emails_cited(deal.id, [msg.in_reply_to or "", *msg.references])
        if not cited:
            return repo.survey_sent_to(deal.id, sender) if self._carries_token(item, deal.token) else None
        surveys = [e for e in cited if e.template == SURVEY]
        to_sender = [e for e in surveys if any(a["email"].lower() == sender for a in e.to)]
        if to_sender or surveys:
            return (to_sender or surveys)[-1]
        asked_back = any(e.template == ASK_BACK for e in cited)
        return repo.survey_sent_to(deal.id, sender) if asked_back else None

    def _carries_token(self, item: MailItem, token: str) -> bool:
        """Sent to the deal's reply address (the survey's Reply-To) or with its subject tag."""
        msg, token = item.msg, token.lower()
        for a in (*msg.to, *msg.cc, *msg.delivered_to):
            local = a.email.partition("@")[0].lower()
            if self.party.is_agent(a.email) and local.partition("+")[2] == token:
                return True
        return any(t.lower() == token for t in TAG.findall(msg.subject))

    def _record(
        self, item: MailItem, deal: m.Deal, survey: m.OutboxEmail, reading: Reading, scale: Scale, score: int
    ) -> None:
        repo, sender = item.repo, item.sender.lower()
        normalised = reading.out_of is not None and reading.out_of != scale.high
        before = repo.save_csat_answer(
            deal.id,
            sender,
            score=score,
            scale_min=scale.low,
            scale_max=scale.high,
            original=reading.original,
            normalised=normalised,
            comment=reading.comment,
            survey_id=survey.id,
            message_id=item.msg.message_id,
            answered_at=item.now,
        )
        scores = [a.score for a in repo.csat_answers_of(deal.id)]
        # The deal's one figure is its contacts' mean, rounded half up; each answer stays in its row.
        deal.csat = (2 * sum(scores) + len(scores)) // (2 * len(scores))
        said = f"{sender} rated onboarding {score} on {scale}"
        said += f" (wrote '{reading.original}')" if normalised else ""
        said += f", replacing {before}" if before is not None else ""
        item.trail.on(deal)(
            "csat_recorded",
            said,
            score=score,
            contact=sender,
            scale=str(scale),
            original=reading.original,
            comment=reading.comment[:200],
        )
        trigger = Trigger("csat_received", str(score), f"CSAT {score} from {sender}")
        self.runner.dispatch(repo, deal, [trigger], item.cause, item.now)

    def _ask_back(self, item: MailItem, deal: m.Deal, reading: Reading, scale: Scale) -> None:
        """Ask the client for a number on the scale, once; after that (or without the template) tell a person."""
        repo, msg, sender = item.repo, item.msg, item.sender.lower()
        item.trail.on(deal)(
            "csat_unclear",
            f"{sender} answered the survey '{reading.original}', outside its scale {scale}: not recorded",
            contact=sender,
            original=reading.original,
        )
        asked = None
        if ASK_BACK in self.enqueuer.templates.names():
            asked = self.enqueuer.queue_email(
                repo,
                deal,
                ASK_BACK,
                (Address(sender, msg.sender.name if msg.sender else ""),),
                (),
                due=item.now,
                rule="",
                reason=f"'{reading.original}' is outside the survey's scale {scale}",
                cause=item.cause,
                trigger=Trigger("csat_unclear", sender),
                now=item.now,
                extra={"survey": {"answer": reading.original, "low": scale.low, "high": scale.high}},
                once="contact",
            )
        if asked is None:
            self.enqueuer.notify_responsible(
                repo,
                deal,
                item.cause,
                item.now,
                subject=f"{deal.name}: a survey answer outside its scale",
                message=f"{sender} answered the survey '{reading.original}'; the survey asks for "
                f"{scale.low} to {scale.high}. No score was recorded.",
            )

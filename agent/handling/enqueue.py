"""Queueing emails: rendered once, keyed so that one cause never queues the same email twice.

A deal's emails (rules' sends, notices to people, approval requests) are threaded on the
deal's conversation and may be held for review: then the draft waits in `review` and a
review request to the Responsible person is written beside it, here, in the same step.
Emails that belong to no deal (questions to our people, digests) are standalone.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from agent.businesstime import BusinessCalendar
from agent.config import Config
from agent.domain import Address
from agent.handling import consent
from agent.handling.cause import Cause
from agent.handling.commands.grammar import parse_commands
from agent.handling.email_keys import email_key, once_key
from agent.handling.our_people import csm_of, responsible
from agent.matching import Party
from agent.outbox import status
from agent.outbox.compose import new_message_id, subject_tag
from agent.outbox.context import deal_context, person
from agent.outbox.render import TemplateSet
from agent.pipeline.definition import Pipeline
from agent.pipeline.engine import Trigger
from agent.store import models as m
from agent.store.audit import Trail
from agent.store.queries.addresses import OPT_OUT_CONFIRM
from agent.store.repo import Repo


class Enqueuer:
    def __init__(
        self,
        config: Config,
        pipelines: dict[str, Pipeline],
        templates: TemplateSet,
        calendar: BusinessCalendar,
        party: Party,
    ) -> None:
        self.config = config
        self.pipelines = pipelines
        self.templates = templates
        self.calendar = calendar
        self.party = party

    def queue_email(
        self,
        repo: Repo,
        deal: m.Deal,
        template: str,
        to: tuple[Address, ...],
        cc: tuple[Address, ...],
        *,
        due: datetime,
        rule: str,
        reason: str,
        cause: Cause,
        trigger: Trigger,
        now: datetime,
        unless_replied: bool = False,
        unfilled: tuple[str, ...] = (),
        extra: dict[str, Any] | None = None,
        once: str | None = None,
        approved_by: str | None = None,
        thread: tuple[str, list[str]] | None = None,
    ) -> m.OutboxEmail | None:
        """One email of a deal; None when there is nobody to send it to or this cause queued it already.
        `approved_by`: a role of ours whose people alone can let it go (it never goes on its own).
        `thread`: its (In-Reply-To, References) when not the deal's conversation (a forward's: the
        client's message it carries).

        `once` ("deal", or "contact" for an email to one person) keys the email by what it is
        rather than by its cause: another final call, a restart or a reloaded rule finds it.
        """
        trail = cause.trail(repo, now).on(deal)
        if unfilled:
            trail(
                "recipients_missing",
                f"{template}: nobody fills {', '.join(unfilled)} on this deal",
                rule=rule,
            )
        opted = repo.opted_out(a.email for a in (*to, *cc))
        chosen = consent.sort_out(template, unless_replied, to, cc, opted)
        to, cc = chosen.to, chosen.cc
        if chosen.dropped:
            gone = ", ".join(sorted(chosen.dropped))
            trail("recipient_opted_out", f"{template} never goes to {gone}: opted out", rule=rule)
        if not to:
            trail("email_not_queued", f"{template}: no recipient", rule=rule)
            return None
        key = None
        if once:
            key, earlier = once_key(repo, deal, template, to, once)
            if earlier is not None:
                trail(
                    "email_not_queued",
                    f"{template} goes once per {once}: email {earlier.id} to {_emails(earlier.to)} "
                    f"is {earlier.status} already",
                    rule=rule,
                )
                return None
        email = self._write(
            repo,
            deal,
            template,
            to,
            cc,
            due=due,
            rule=rule,
            cause=cause,
            trigger=trigger,
            now=now,
            extra=extra,
            unless_replied=unless_replied,
            key=key,
            thread=thread,
        )
        if email is None:
            return None
        email.approver_role = approved_by or ""
        when = "now" if due <= now else f"at {due.isoformat()}"
        self._store(trail, cause, email, f"{template} to {_emails(email.to)} {when}: {reason}")
        self._no_reply_timers(repo, deal, email)
        self._hold_for_review(repo, deal, email, cause, now, chosen.confirm)
        if chosen.apart:
            copy = self._write(
                repo,
                deal,
                template,
                chosen.apart,
                (),
                due=due,
                rule=rule,
                cause=cause,
                trigger=trigger,
                now=now,
                extra=extra,
                key=email_key(f"{email.idempotency_key}|opted-out|{','.join(sorted(chosen.apart_emails))}"),
            )
            if copy is not None:
                self._store(trail, cause, copy, f"{template} to {_emails(copy.to)}, apart: they opted out")
                self._hold_for_review(repo, deal, copy, cause, now, chosen.apart_emails)
        return email

    def notify_responsible(
        self, repo: Repo, deal: m.Deal, cause: Cause, now: datetime, *, subject: str, message: str
    ) -> None:
        """A notice to whoever is Responsible in the deal's stage (the CSM when no task says)."""
        self.notice(repo, deal, responsible(repo, deal), cause, now, subject=subject, message=message)

    def notice(
        self,
        repo: Repo,
        deal: m.Deal,
        to: tuple[Address, ...],
        cause: Cause,
        now: datetime,
        *,
        subject: str,
        message: str,
        trigger: Trigger | None = None,
        reason: str = "",
        rule: str = "",
    ) -> m.OutboxEmail | None:
        """A notice (the `notice` template: a subject and a message) to people of ours, at once."""
        return self.queue_email(
            repo,
            deal,
            "notice",
            to,
            (),
            due=now,
            rule=rule,
            reason=reason or subject,
            cause=cause,
            trigger=trigger or Trigger("notice", subject),
            now=now,
            extra={"notice": {"subject": subject, "message": message}},
        )

    def ask_which_deal(
        self,
        repo: Repo,
        candidate_ids: list[int],
        asker: Address | None,
        question: dict[str, Any],
        cause: Cause,
        now: datetime,
        *,
        about_message_id: int | None = None,
        about_meeting_id: int | None = None,
        in_reply_to: str = "",
        participants: tuple[Address, ...] = (),
    ) -> None:
        """Ask which deal a message or meeting is about, of who can answer: our own person who wrote
        it; else the candidates' CSMs it was written to; else, when it went to none, all of them."""
        candidates = [d for d in (repo.deal(i) for i in candidate_ids) if d is not None]
        if asker is not None and self.party.is_internal(asker.email) and not self.party.is_agent(asker.email):
            ask = [asker]
        else:
            csms = dict.fromkeys(
                Address(r.email, r.name) for d in candidates for r in d.roles if r.role == "csm"
            )
            written = {p.email.lower() for p in participants}
            ask = [a for a in csms if a.email.lower() in written] or list(csms)
        options = [
            {"number": n, "name": d.name, "ref": d.token, "stage": d.stage}
            for n, d in enumerate(candidates, start=1)
        ]
        self.queue_standalone(
            repo,
            "question",
            tuple(ask),
            {"question": {**question, "options": options}},
            cause=cause,
            now=now,
            reason=f"which deal is '{question['subject']}' about?",
            about_message_id=about_message_id,
            about_meeting_id=about_meeting_id,
            in_reply_to=in_reply_to,
        )

    def queue_standalone(
        self,
        repo: Repo,
        template: str,
        to: tuple[Address, ...],
        extra: dict[str, Any],
        *,
        cause: Cause,
        now: datetime,
        reason: str,
        about_message_id: int | None = None,
        about_meeting_id: int | None = None,
        in_reply_to: str = "",
    ) -> m.OutboxEmail | None:
        """An email to our own people that belongs to no deal (a question, a digest)."""
        recipients = ",".join(sorted(a.email for a in to))
        key = email_key(f"{cause.key}|standalone|{template}|{recipients}")
        if not to or cause.taken(repo, key, own=True):
            return None
        to_list = [person(a.name, a.email) for a in to]
        context = {
            "agent": {"name": self.config.agent.name, "address": self.config.agent.address},
            "recipients": to_list,
            **extra,
        }
        rendered = self.templates.render(template, context)
        email = m.OutboxEmail(
            deal_id=None,
            template=template,
            idempotency_key=key,
            message_id=new_message_id(self.config.agent, None),
            to=to_list,
            cc=[],
            subject=rendered.subject,
            body_text=rendered.text,
            body_html=rendered.html,
            in_reply_to=in_reply_to,
            references=[in_reply_to] if in_reply_to else [],
            due_at=now,
            created_at=now,
            ready_at=cause.arrived_at,
            rule="",
            stage="",
            about_message_id=about_message_id,
            about_meeting_id=about_meeting_id,
        )
        self._store(cause.trail(repo, now), cause, email, f"{template} to {_emails(to_list)}: {reason}")
        return email

    # --- inside ----------------------------------------------------------------------------
    @staticmethod
    def _store(trail: Trail, cause: Cause, email: m.OutboxEmail, reason: str) -> None:
        """The email stored, queued, and its key known to its cause (Cause.taken)."""
        status.queue(trail, email, reason)
        cause.queued.add(email.idempotency_key)

    def _write(
        self,
        repo: Repo,
        deal: m.Deal,
        template: str,
        to: tuple[Address, ...],
        cc: tuple[Address, ...],
        *,
        due: datetime,
        rule: str,
        cause: Cause,
        trigger: Trigger,
        now: datetime,
        extra: dict[str, Any] | None,
        review_of: int | None = None,
        unless_replied: bool = False,
        key: str | None = None,
        thread: tuple[str, list[str]] | None = None,
    ) -> m.OutboxEmail | None:
        """The deal's email rendered and threaded, for `status.queue` to store; None if queued before.

        Keyed by its cause unless a `key` is given (see `email_keys.once_key`).
        """
        own = key is None
        if key is None:
            recipients = ",".join(sorted(a.email for a in to + cc))
            key = email_key(
                f"{cause.key}|{trigger.kind}:{trigger.subject}|{rule}|{template}|{deal.id}|{recipients}"
            )
        if cause.taken(repo, key, own):
            return None  # the same cause already queued this email: never twice
        to_list = [person(a.name, a.email) for a in to]
        identity = self.config.identity(deal.team)  # a team's deal writes from the team's address
        pipeline = self.pipelines.get(deal.pipeline)
        context = deal_context(
            identity,
            deal,
            pipeline,
            recipients=to_list,
            meeting=cause.meeting,
            notes=self._notes(repo, deal, cause.meeting) if cause.meeting else None,
            extra=extra,
            people=repo.people(deal),
        )
        rendered = self.templates.render(template, context)
        in_reply_to, references = thread or repo.thread_ids(deal.id)
        email = m.OutboxEmail(
            deal_id=deal.id,
            template=template,
            idempotency_key=key,
            message_id=new_message_id(identity, deal.id),
            to=to_list,
            cc=[person(a.name, a.email) for a in cc],
            subject=f"{rendered.subject} {subject_tag(deal.token)}",
            body_text=rendered.text,
            body_html=rendered.html,
            in_reply_to=in_reply_to,
            references=references,
            due_at=due,
            created_at=now,
            ready_at=cause.arrived_at if due <= now else due,
            rule=rule,
            stage=deal.stage,
            # only an email about a held meeting depends on it: a cancellation notice must still go
            meeting_id=cause.meeting.id if cause.meeting and trigger.kind == "meeting_completed" else None,
            review_of=review_of,
            unless_replied=unless_replied,
        )
        return email

    def _no_reply_timers(self, repo: Repo, deal: m.Deal, email: m.OutboxEmail) -> None:
        """The rules waiting for a reply to this template start waiting from its due time."""
        pipeline = self.pipelines.get(deal.pipeline)
        for r in pipeline.rules_on("no_reply_to") if pipeline else ():
            if r.when.no_reply_to == email.template and r.when.for_ is not None:
                repo.add_timer(
                    f"no-reply:{r.id}:{email.id}",
                    "no_reply",
                    self.calendar.add(email.due_at, r.when.for_, deal.timezone),
                    deal.id,
                    {"rule": r.id, "outbox_id": email.id},
                )

    def _hold_for_review(
        self,
        repo: Repo,
        deal: m.Deal,
        draft: m.OutboxEmail,
        cause: Cause,
        now: datetime,
        opted: frozenset[str] = frozenset(),
    ) -> None:
        """Hold the draft when its template is reviewed on this deal, and ask the Responsible person.
        One to contacts who `opted` out waits for the CSM's confirmation: no deadline sends it."""
        settings, role = self.config.review, draft.approver_role
        csm = next((r.email for r in repo.people(deal).roles if r.role == "csm"), "")
        if not opted and not role and not settings.needs_review(draft.template, csm):
            return  # most emails: decided without asking the store who is Responsible
        reviewers = csm_of(repo, deal) if opted else responsible(repo, deal, role)
        trail = cause.trail(repo, now)
        if not reviewers:
            if opted or role:
                why = (
                    f"{', '.join(sorted(opted))} opted out" if opted else f"nobody fills {role} to approve it"
                )
                status.withdraw(trail, draft, f"{why}; nobody can confirm")
            return
        # only a person's answer sends it to contacts who opted out, or one a department must approve:
        # no timer, whatever on_timeout says
        lasting = bool(opted or role)
        deadline = now + timedelta(hours=settings.answer_within_hours)
        extra: dict[str, Any] = {
            "draft": {
                "subject": draft.subject.replace(f" {subject_tag(deal.token)}", ""),
                "text": draft.body_text,
                "to": ", ".join(a["email"] for a in draft.to),
                "cc": ", ".join(a["email"] for a in draft.cc),
                "deadline": "" if lasting else deadline.astimezone().strftime("%A %-d %B %H:%M %Z"),
                "on_timeout": settings.on_timeout,
                "approval": self._approver(deal, role),
            }
        }
        if opted:
            extra["notice"] = consent.opted_out_notice(repo, deal, draft, opted)
        request = self._write(
            repo,
            deal,
            OPT_OUT_CONFIRM if opted else "review-request",
            reviewers,
            (),
            due=now,
            rule=draft.rule,
            cause=cause,
            trigger=Trigger("review", str(draft.id)),
            now=now,
            extra=extra,
            review_of=draft.id,
        )
        why = f"{', '.join(sorted(opted))} opted out" if opted else "needs a review"
        if request is not None:
            self._store(
                trail,
                cause,
                request,
                f"{request.template} to {_emails(request.to)} now: {draft.template} {why} before it goes",
            )
            self._no_reply_timers(repo, deal, request)
        if not lasting:
            repo.add_timer(f"review:{draft.id}", "review_timeout", deadline, deal.id, {"outbox_id": draft.id})
        until = "to confirm: it never goes on its own" if lasting else f"until {deadline.isoformat()}"
        why = f"{why}, the approval of {self._approver(deal, role)}" if role else why
        who = ", ".join(a.email for a in reviewers) + (f" ({why})" if lasting else "")
        status.hold_for_review(trail, draft, f"{draft.template} waits for {who} {until}")

    def _approver(self, deal: m.Deal, role: str) -> str:
        pipeline = self.pipelines.get(deal.pipeline)
        return pipeline.role_words(role) if pipeline and role else role

    @staticmethod
    def _notes(repo: Repo, deal: m.Deal, meeting: m.Meeting) -> list[str]:
        """Our people's notes on the call: what they wrote to the agent since it began, commands left out."""
        return [n for n in repo.internal_notes(deal.id, meeting.start) if not parse_commands("", n)]


def _emails(people: list[Any]) -> str:
    return ", ".join(a["email"] for a in people)

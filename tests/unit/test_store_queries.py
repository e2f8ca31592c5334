"""The store's named queries that the service, the reports and the dashboard read through."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from agent.deals import view
from agent.store import models as m
from agent.store.db import open_store
from agent.store.repo import Repo

T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


@pytest.fixture
def repo(tmp_path: Path) -> Iterator[Repo]:
    sessions = open_store(f"sqlite:///{tmp_path / 'a.db'}")
    with sessions.begin() as s:
        yield Repo(s)


@contextmanager
def statements_run(repo: Repo, pattern: str = "") -> Iterator[list[str]]:
    """The statements the repo's connection runs while the block runs (those matching `pattern`)."""
    seen: list[str] = []

    def listen(*args: Any) -> None:
        if re.match(pattern, str(args[2]), re.S):
            seen.append(str(args[2]))

    event.listen(repo.s.connection(), "before_cursor_execute", listen)
    try:
        yield seen
    finally:
        event.remove(repo.s.connection(), "before_cursor_execute", listen)


def _deal(repo: Repo, name: str) -> m.Deal:
    deal = m.Deal(
        name=name,
        name_key=m.name_key(name),
        pipeline="standard-onboarding",
        stage="set-up",
        token=repo.new_token(),
        timezone="UTC",
        created_at=T0,
    )
    repo.add(deal)
    return deal


def _email(
    repo: Repo,
    deal: m.Deal | None,
    key: str,
    status: str,
    sent_at: datetime | None,
    to: tuple[str, ...] = (),
    cc: tuple[str, ...] = (),
) -> None:
    repo.add(
        m.OutboxEmail(
            deal_id=deal.id if deal else None,
            template="intro",
            idempotency_key=key,
            message_id=f"<{key}@example.com>",
            to=[{"name": "", "email": e} for e in to],
            cc=[{"name": "", "email": e} for e in cc],
            subject="",
            body_text="",
            body_html="",
            status=status,
            due_at=T0,
            created_at=T0,
            sent_at=sent_at,
        )
    )


def test_an_error_keeps_the_last_success_and_a_success_clears_the_error(repo: Repo) -> None:
    assert repo.health("mailbox") == {}
    repo.record_health("mailbox", "", T0)
    repo.record_health("mailbox", "connection refused", T0 + timedelta(minutes=1))
    assert repo.health("mailbox") == {
        "last_ok": T0.isoformat(),
        "last_error": "connection refused",
        "error_at": (T0 + timedelta(minutes=1)).isoformat(),
    }
    repo.record_health("mailbox", "", T0 + timedelta(minutes=2))
    health = repo.health("mailbox")
    assert health["last_ok"] == (T0 + timedelta(minutes=2)).isoformat()
    assert health["last_error"] == ""
    assert health["error_at"] == (T0 + timedelta(minutes=1)).isoformat()  # when it last failed stays
    assert repo.cursor("health:mailbox") is not None  # the row `status` has always read
    assert repo.health("calendar") == {}  # one record per part


def test_a_pass_that_proves_nothing_leaves_a_standing_error_and_moves_a_clean_parts_last_ok(
    repo: Repo,
) -> None:
    repo.record_health("outbox", "451 try later", T0)
    repo.record_health("outbox", "", T0 + timedelta(minutes=1), proven=False)  # nothing was due
    assert repo.health("outbox") == {"last_error": "451 try later", "error_at": T0.isoformat()}
    repo.record_health("outbox", "", T0 + timedelta(minutes=2))  # a send went through
    assert repo.health("outbox")["last_error"] == ""
    repo.record_health("outbox", "", T0 + timedelta(minutes=3), proven=False)
    assert repo.health("outbox")["last_ok"] == (T0 + timedelta(minutes=3)).isoformat()


def test_a_quarantined_event_is_not_committed(repo: Repo) -> None:
    for key, status in (("mail:1", "processed"), ("mail:2", "quarantined"), ("mail:3", "skipped")):
        repo.add(m.InboundEvent(key=key, source="mail", status=status, received_at=T0))
    assert repo.event_committed("mail:1")
    assert not repo.event_committed("mail:2")
    assert repo.event_committed("mail:3")  # skipped on purpose: done with, not to be retried
    assert not repo.event_committed("mail:4")


def test_a_timer_by_id(repo: Repo) -> None:
    repo.add_timer("t:1", "no_reply", T0, None, {"rule": "nudge"})
    timer = repo.due_timers(T0)[0]
    assert repo.timer(timer.id) is timer
    assert repo.timer(timer.id + 1) is None


def test_a_timer_is_added_once_a_key_in_one_statement(repo: Repo) -> None:
    timers_are_added_once_a_key(repo)  # and on PostgreSQL: tests/integration/test_postgres.py


def timers_are_added_once_a_key(repo: Repo) -> None:
    with statements_run(repo) as statements:
        repo.add_timer("meeting_end:7", "meeting_end", T0, None, {"meeting_id": 7})
        assert len(statements) == 1  # no look first: a round trip on PostgreSQL
    repo.add_timer("meeting_end:7", "meeting_end", T0 + timedelta(days=1), None, {"meeting_id": 8})
    # one written ORM-wise and not flushed yet: it is written first and kept, not a key clash
    repo.s.add(m.Timer(key="reminder:1", kind="reminder", due_at=T0, payload={"n": 1}))
    repo.add_timer("reminder:1", "reminder", T0 + timedelta(days=1), None, {"n": 2})
    repo.add_timer("reminder:2", "reminder", T0 + timedelta(hours=1), None, {"n": 3})
    kept = [(t.key, t.due_at, t.payload) for t in repo.due_timers(T0 + timedelta(days=2))]
    assert sorted(kept) == [
        ("meeting_end:7", T0, {"meeting_id": 7}),
        ("reminder:1", T0, {"n": 1}),
        ("reminder:2", T0 + timedelta(hours=1), {"n": 3}),
    ]


def test_tasks_and_visits_read_whole(repo: Repo) -> None:
    a, b = _deal(repo, "Acme"), _deal(repo, "Globex")

    def task(deal: m.Deal, key: str, status: str, due: datetime | None) -> None:
        repo.add(
            m.Task(
                deal_id=deal.id,
                key=key,
                stage="set-up",
                title=key,
                status=status,
                responsible="csm",
                accountable="onboarding_manager",
                due_at=due,
                created_at=T0,
            )
        )

    task(a, "open-due", "open", T0)
    task(a, "open-undated", "open", None)
    task(b, "done-due", "done", T0)
    task(b, "open-due", "open", T0 + timedelta(days=1))
    assert [(t.deal_id, t.key) for t in repo.open_tasks_due()] == [(a.id, "open-due"), (b.id, "open-due")]
    assert len(repo.all_tasks()) == 4

    repo.add(m.StageVisit(deal_id=a.id, stage="introduction-call", entered_at=T0, exited_at=T0))
    repo.add(m.StageVisit(deal_id=b.id, stage="set-up", entered_at=T0 - timedelta(days=2)))
    repo.add(m.StageVisit(deal_id=a.id, stage="set-up", entered_at=T0))
    assert [(v.deal_id, v.stage) for v in repo.open_visits()] == [(b.id, "set-up"), (a.id, "set-up")]
    assert [v.entered_at for v in repo.all_visits()] == sorted(v.entered_at for v in repo.all_visits())
    assert len(repo.all_visits()) == 3


def test_what_the_scorecard_counts(repo: Repo) -> None:
    deal = _deal(repo, "Acme")
    _email(repo, deal, "sent", "sent", T0)
    _email(repo, deal, "queued", "queued", None)
    _email(repo, None, "notice", "sent", T0 + timedelta(hours=1))
    assert sorted(repo.sent_times(), key=str) == sorted(
        [(deal.id, T0), (None, T0 + timedelta(hours=1))], key=str
    )

    def message(key: str, direction: str, kind: str, status: str = "matched") -> None:
        repo.insert(
            m.Message,
            deal_id=deal.id,
            message_id=f"<{key}@client.example>",
            source_key=key,
            direction=direction,
            kind=kind,
            status=status,
            received_at=T0,
        )

    message("reply", "inbound", "normal")
    message("ooo", "inbound", "auto_reply")
    message("ours", "bcc", "normal")
    message("old", "inbound", "normal", "history")  # written before the agent watched the mailbox
    assert repo.client_reply_times() == [(deal.id, T0)]

    for uid, status in (("held", "completed"), ("missed", "no_show")):
        repo.add(m.Meeting(deal_id=deal.id, uid=uid, start=T0, end=T0 + timedelta(hours=1), status=status))
    assert sorted(repo.meeting_outcomes()) == [
        (deal.id, "completed", T0 + timedelta(hours=1)),
        (deal.id, "no_show", T0 + timedelta(hours=1)),
    ]


def test_what_the_daily_caps_count_is_the_deals_emails_and_the_recipients_not_the_days(repo: Repo) -> None:
    what_the_daily_caps_count(repo)  # and on PostgreSQL: tests/integration/test_postgres.py


def what_the_daily_caps_count(repo: Repo) -> None:
    acme, other = _deal(repo, "Acme"), _deal(repo, "Other")
    _email(repo, acme, "acme", "sent", T0, to=("ana@acme.example",))
    _email(repo, acme, "acme-queued", "queued", None, to=("ana@acme.example",))
    _email(repo, acme, "acme-old", "sent", T0 - timedelta(days=2), to=("ana@acme.example",))
    for n in range(20):  # the rest of the day's mail: neither the deal's nor to the recipients asked about
        _email(repo, other, f"other-{n}", "sent", T0, to=(f"person{n}@other.example",))
    _email(repo, other, "wildcards", "sent", T0, to=("aXb@x.example", "100@x.example"))
    _email(repo, other, "unicode", "sent", T0, to=("zoë@x.example",))
    _email(repo, other, "copied", "sent", T0, to=("someone@x.example",), cc=("ana@acme.example",))
    since = T0 - timedelta(days=1)

    assert repo.sent_on_deal_since(acme.id, since) == [[{"name": "", "email": "ana@acme.example"}]]
    assert repo.sent_to_since(["ana@acme.example"], since) == [[{"name": "", "email": "ana@acme.example"}]]
    # an address's _ and % are themselves, not LIKE's wildcards; one not in ASCII is found as JSON wrote it
    assert repo.sent_to_since(["a_b@x.example", "1%@x.example"], since) == []
    assert len(repo.sent_to_since(["aXb@x.example"], since)) == 1
    assert repo.sent_to_since(["zoë@x.example"], since) == [[{"name": "", "email": "zoë@x.example"}]]
    assert len(repo.sent_to_since(["ana@acme.example", "person3@other.example"], since)) == 2
    assert repo.sent_to_since([], since) == []


def test_csat_answers_are_whole_scores_in_time_order(repo: Repo) -> None:
    deal = _deal(repo, "Acme")
    details: list[dict[str, Any]] = [{"score": 5}, {"score": "5"}, {}, {"score": 3}]
    for hours, detail in zip((3, 2, 1, 0), details, strict=True):
        repo.audit(T0 + timedelta(hours=hours), "csat_recorded", deal_id=deal.id, event_id=None, **detail)
    repo.audit(T0, "stage_changed", deal_id=deal.id, event_id=None, score=1)
    assert repo.csat_answers() == [(deal.id, T0, 3), (deal.id, T0 + timedelta(hours=3), 5)]
    assert repo.csat_answers(T0 + timedelta(hours=1)) == [(deal.id, T0 + timedelta(hours=3), 5)]


def test_refresh_shows_rows_added_beside_a_deal(repo: Repo) -> None:
    deal = _deal(repo, "Acme")
    assert deal.contacts == []
    repo.add(m.Contact(deal_id=deal.id, name="Ann", email="ann@acme.example", role="client_admin"))
    repo.refresh(deal)
    assert [c.email for c in deal.contacts] == ["ann@acme.example"]


def test_one_session_under_every_part_of_the_repo(tmp_path: Path) -> None:
    sessions = open_store(f"sqlite:///{tmp_path / 'a.db'}")
    with sessions.begin() as s:
        assert isinstance(s, Session)
        repo = Repo(s)
        assert repo.s is s
        deal = _deal(repo, "Acme")  # its token made by the deals part, found by the directory part
        assert repo.deals_by_token(deal.token.lower()) == {deal.id}


def test_a_deals_people_are_read_as_rows_in_the_order_they_were_added(repo: Repo) -> None:
    deal, other = _deal(repo, "Acme"), _deal(repo, "Globex")
    repo.s.add_all(
        [
            m.Contact(deal_id=deal.id, name="Jane", email="jane@acme.example", role="client_admin"),
            m.RoleAssignment(deal_id=deal.id, role="csm", email="sam@example.com", name="Sam"),
            m.Contact(deal_id=other.id, name="Hank", email="hank@globex.example", role="client_admin"),
            m.Contact(deal_id=deal.id, name="Joe", email="joe@acme.example", role="it"),
            m.RoleAssignment(deal_id=deal.id, role="onboarding_manager", email="olga@example.com"),
        ]
    )  # not flushed: the read sees them as the ORM would
    people = repo.people(deal)
    assert [tuple(p) for p in people.roles] == [
        ("csm", "Sam", "sam@example.com"),
        ("onboarding_manager", "", "olga@example.com"),
    ]
    assert [p.email for p in people.contacts] == ["jane@acme.example", "joe@acme.example"]
    assert [p.email for p in repo.people(other).contacts] == ["hank@globex.example"]
    assert repo.people(other).roles == ()


def test_a_collection_changed_in_the_transaction_shows_its_changes_not_yet_written(repo: Repo) -> None:
    deal = _deal(repo, "Acme")
    repo.add(m.RoleAssignment(deal_id=deal.id, role="csm", email="sam@example.com", name="Sam"))
    repo.refresh(deal)
    deal.roles[0].email = "sue@example.com"  # changed, not flushed: the loaded collection tells it
    deal.contacts.append(m.Contact(name="Jane", email="jane@acme.example", role="client_admin"))
    people = repo.people(deal)
    assert [p.email for p in people.roles] == ["sue@example.com"]
    assert [p.email for p in people.contacts] == ["jane@acme.example"]


def test_a_deals_people_are_read_once_until_a_contact_or_a_role_is_written(repo: Repo) -> None:
    deal = _deal(repo, "Acme")
    repo.add(m.RoleAssignment(deal_id=deal.id, role="csm", email="sam@example.com", name="Sam"))
    statements: list[str] = []
    listen = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(repo.s.connection(), "before_cursor_execute", listen)
    try:
        assert [p.email for p in repo.people(deal).roles] == ["sam@example.com"]
        assert [p.email for p in repo.people(deal).roles] == ["sam@example.com"]
        assert len(statements) == 1  # the second step's read is the first's
        role = repo.s.scalars(select(m.RoleAssignment)).one()  # not through deal.roles: none loaded
        role.email = "sue@example.com"
        repo.add(m.Contact(deal_id=deal.id, name="Jane", email="jane@acme.example", role="client_admin"))
        people = repo.people(deal)
        assert [p.email for p in people.roles] == ["sue@example.com"]
        assert [p.email for p in people.contacts] == ["jane@acme.example"]
    finally:
        event.remove(repo.s.connection(), "before_cursor_execute", listen)


def test_a_look_ahead_answers_each_new_inputs_first_look_up_without_a_statement(repo: Repo) -> None:
    old = repo.record_event(
        key="mail:1", source="mail", status="processed", received_at=T0, content_hash="h1"
    )
    assert old
    repo.look_ahead(["mail:1", "mail:2", "mail:3"], {"h1", "h2", "h3"})
    statements: list[str] = []
    listen = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(repo.s.connection(), "before_cursor_execute", listen)
    try:
        assert repo.event_known("mail:2", "h2") is False
        assert statements == []  # the look-ahead said so
        assert repo.event_known("mail:1", "h1") is True  # found by the look-ahead: asked again
        assert len(statements) == 1
        assert repo.event_known("mail:2", "h2") is False  # its one answer was given: asked
        assert len(statements) == 2
        # the same content under another key, written meanwhile: the store is asked and knows it
        repo.record_event(key="mail:9", source="mail", status="processed", received_at=T0, content_hash="h3")
        assert repo.event_known("mail:3", "h3") is True
    finally:
        event.remove(repo.s.connection(), "before_cursor_execute", listen)


def test_a_message_look_ahead_answers_each_new_ids_first_look_up_without_a_statement(repo: Repo) -> None:
    def log(message_id: str) -> int:
        return repo.record_message(
            deal_id=None, message_id=message_id, source_key=f"mail:{message_id}", subject="s", sender="a@b.example",
            recipients=[], direction="inbound", kind="normal", status="unmatched", received_at=T0,
        )  # fmt: skip

    log("<old@b.example>")
    repo.look_ahead_messages(["<old@b.example>", "<new@b.example>", "<copy@b.example>", "<gone@b.example>"])
    statements: list[str] = []
    listen = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(repo.s.connection(), "before_cursor_execute", listen)
    try:
        assert repo.message_known("<new@b.example>") is False
        assert statements == []  # the look-ahead said so
        assert repo.message_known("<old@b.example>") is True  # found by the look-ahead: asked again
        assert repo.message_known("<new@b.example>") is False  # its one answer was given: asked
        assert len(statements) == 2
        log("<copy@b.example>")  # logged meanwhile (a copy earlier in the group): the store knows it
        assert repo.message_known("<copy@b.example>") is True
        # answered, then logged in a savepoint rolled back: the store is asked, and has none
        with pytest.raises(RuntimeError), repo.s.begin_nested():
            assert repo.message_known("<gone@b.example>") is False
            log("<gone@b.example>")
            raise RuntimeError("this message failed")
        assert repo.message_known("<gone@b.example>") is False
    finally:
        event.remove(repo.s.connection(), "before_cursor_execute", listen)


def test_who_opted_out_is_read_once_a_transaction_until_a_flag_is_written_or_rolled_back(repo: Repo) -> None:
    repo.flag("gone@client.example").opted_out_at = T0
    statements: list[str] = []
    listen = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(repo.s.connection(), "before_cursor_execute", listen)
    try:
        asked = ["Gone@client.example", "csm@ourco.example"]
        assert repo.opted_out(asked) == {"gone@client.example"}
        reads = len(statements)  # the pending flag's INSERT, and the one read
        assert repo.opted_out(asked) == {"gone@client.example"} and repo.opted_out([]) == set()
        assert len(statements) == reads  # answered as before: no statement
        repo.flag("csm@ourco.example").opted_out_at = T0  # a flag written: asked again
        assert repo.opted_out(asked) == {"gone@client.example", "csm@ourco.example"}
        # an opt-out in a savepoint rolled back: gone with it, and not answered from before
        with pytest.raises(RuntimeError), repo.s.begin_nested():
            repo.flag("late@client.example").opted_out_at = T0
            assert repo.opted_out(["late@client.example"]) == {"late@client.example"}
            raise RuntimeError("this message failed")
        assert repo.opted_out(["late@client.example"]) == set()
    finally:
        event.remove(repo.s.connection(), "before_cursor_execute", listen)


def test_two_workers_writing_the_same_new_cursor_both_succeed(tmp_path: Path) -> None:
    # A part's health ("health:outbox") is one row all workers write. Worker B writes it in the
    # middle of worker A's write (after A's first statement on the row): a look, then an INSERT,
    # let both find no row, and A's INSERT then failed on the key (seen with 2 workers on PostgreSQL).
    sessions = open_store(f"sqlite:///{tmp_path / 'a.db'}")
    errors: list[BaseException] = []

    def worker_b() -> None:
        try:
            with sessions.begin() as s:
                Repo(s).set_cursor("health:outbox", "b", T0)
        except BaseException as exc:
            errors.append(exc)

    b = threading.Thread(target=worker_b)

    def after_first(_conn: Any, _cursor: Any, sql: str, *_: Any) -> None:
        if "cursors" in sql and not b.is_alive() and b.ident is None:
            b.start()
            b.join(timeout=1.0)  # B finishes unless A holds the row (then B waits for A's commit)

    with sessions.begin() as s:
        event.listen(s.connection(), "after_cursor_execute", after_first)
        Repo(s).set_cursor("health:outbox", "a", T0)
    b.join(timeout=30)
    assert errors == []
    with sessions.begin() as s:
        assert Repo(s).cursor("health:outbox") == "b"  # the later write wins


def test_a_messages_candidate_deal_is_read_once_whole(repo: Repo) -> None:
    deal = _deal(repo, "Acme")  # written (flushed)
    deal_id, stage = deal.id, (deal.pipeline, deal.stage)
    repo.s.expunge_all()  # as for a new item: nothing of the deal in hand
    repo.held.clear()
    del deal
    statements: list[str] = []
    listen = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(repo.s.connection(), "before_cursor_execute", listen)
    try:
        assert repo.deals_in_stages([deal_id], [stage]) == {deal_id}
        read = repo.deal(deal_id)
        assert read is not None and read.name == "Acme"
        assert len(statements) == 1  # the deal it was tied to came with the stages' look-up
    finally:
        event.remove(repo.s.connection(), "before_cursor_execute", listen)


def test_a_groups_people_read_ahead_answer_its_messages_without_a_statement(repo: Repo) -> None:
    acme, globex = _deal(repo, "Acme"), _deal(repo, "Globex")
    acme_id, globex_id, stage = acme.id, globex.id, (acme.pipeline, acme.stage)
    repo.s.add_all(
        [
            m.Contact(deal_id=acme_id, name="Jane", email="jane@acme.example", role="client_admin"),
            m.RoleAssignment(deal_id=acme_id, role="csm", email="sam@example.com", name="Sam"),
            m.Contact(deal_id=globex_id, name="Hank", email="hank@globex.example", role="client_admin"),
        ]
    )
    repo.s.flush()
    repo.s.expunge_all()  # as for the group's next messages: nothing of the deals in hand
    del acme, globex
    repo.look_ahead_people(["Jane@acme.example", "hank@globex.example", "nobody@else.example"])
    statements: list[str] = []
    listen = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(repo.s.connection(), "before_cursor_execute", listen)
    try:
        later = Repo(repo.s)  # a later message's item: a Repo of its own over the group's transaction
        assert later.deals_by_email("JANE@acme.example") == {acme_id}
        assert later.deals_by_email("nobody@else.example") == set()  # none: known too
        assert later.deals_in_stages([acme_id], [stage]) == {acme_id}
        deal = later.deal(acme_id)
        assert deal is not None and deal.name == "Acme"
        assert [p.email for p in later.people(deal).roles] == ["sam@example.com"]
        assert [p.email for p in later.people(deal).contacts] == ["jane@acme.example"]
        assert statements == []  # all of it read ahead
        assert later.deals_by_email("stranger@else.example") == set()  # not asked ahead: asked now
        assert len(statements) == 1
        # a contact written: what was read ahead no longer holds, and the store is asked
        later.add(m.Contact(deal_id=globex_id, name="Jo", email="jane@acme.example", role="it"))
        assert later.deals_by_email("jane@acme.example") == {acme_id, globex_id}
        assert [p.email for p in Repo(repo.s).people(deal).contacts] == ["jane@acme.example"]
    finally:
        event.remove(repo.s.connection(), "before_cursor_execute", listen)


def test_a_deals_client_domains_come_with_its_people_read_ahead_or_not(repo: Repo) -> None:
    acme_id = _deal(repo, "Acme").id
    repo.s.add_all(
        [
            m.ClientDomain(deal_id=acme_id, domain="acme.example"),
            m.Contact(deal_id=acme_id, name="Jane", email="jane@acme.example", role="client_admin"),
            m.ClientDomain(deal_id=acme_id, domain="acme-group.example"),
        ]
    )
    repo.s.flush()
    repo.s.expunge_all()
    repo.look_ahead_people(["jane@acme.example"])
    later = Repo(repo.s)
    with statements_run(repo) as statements:
        deal = later.deal(acme_id)
        assert deal is not None
        # what a rule's email says of the deal: its domains, in the order they were added
        assert view(deal, later.people(deal)).client_domains == ("acme.example", "acme-group.example")
    assert statements == []  # read ahead with its people, not loaded from the deal
    later.add(m.ClientDomain(deal_id=acme_id, domain="acme.test"))  # a domain written: read again
    assert Repo(repo.s).people(deal).domains == ("acme.example", "acme-group.example", "acme.test")
    unread = _deal(repo, "Globex")  # nothing read ahead: one statement, domains and all
    repo.add(m.ClientDomain(deal_id=unread.id, domain="globex.example"))
    assert Repo(repo.s).people(unread).domains == ("globex.example",)


def test_people_read_ahead_hold_neither_past_a_savepoint_rolled_back_nor_past_the_transaction(
    tmp_path: Path,
) -> None:
    sessions = open_store(f"sqlite:///{tmp_path / 'a.db'}")
    with sessions.begin() as s:
        repo = Repo(s)
        acme_id = _deal(repo, "Acme").id
        with pytest.raises(RuntimeError), s.begin_nested():
            repo.add(m.Contact(deal_id=acme_id, name="Jane", email="jane@acme.example", role="client_admin"))
            repo.look_ahead_people(["jane@acme.example"])
            assert repo.deals_by_email("jane@acme.example") == {acme_id}
            raise RuntimeError("this message failed")
        assert repo.deals_by_email("jane@acme.example") == set()  # the contact went with the savepoint
    session = sessions()  # one session, two transactions (as a group's)
    with session.begin():
        Repo(session).look_ahead_people(["jane@acme.example"])  # nobody
    with sessions.begin() as s:  # another worker's transaction adds her
        s.add(m.Contact(deal_id=acme_id, name="Jane", email="jane@acme.example", role="client_admin"))
    with session.begin():
        assert Repo(session).deals_by_email("jane@acme.example") == {acme_id}  # the last answer is gone
    session.close()

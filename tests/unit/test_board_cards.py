"""The board's cards: their words, the filters read from the address, and what reading them costs."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import event
from werkzeug.datastructures import MultiDict

from agent.dashboard.board import Card, Filters, Waiting, cards
from agent.deals import ContactSpec
from agent.store.queries.board import BoardQueries
from agent.store.repo import Repo
from tests.conftest import Harness

LONDON = ZoneInfo("Europe/London")


def a_card(**given: Any) -> Card:
    values: dict[str, Any] = {
        "id": 1, "name": "Acme", "pipeline": "p", "stage": "s", "team": "", "account": "", "csm": "Sam",
        "csm_email": "sam@example.com", "contact": "Jane", "next_meeting": "", "next_task": None,
        "overdue": 0, "waiting": (), "meetings_today": 0, "days": 4, "target": 14, "end": False,
        "words": "acme jane",
    }  # fmt: skip
    return Card(**(values | given))


def test_time_in_stage_reads_as_days_of_the_target_and_is_late_only_past_it() -> None:
    assert a_card().in_stage == "4 of 14 days" and not a_card().late
    assert not a_card(days=14).late and a_card(days=15).late
    assert a_card(days=1, target=None).in_stage == "1 day in stage" and not a_card(target=None).late
    assert not a_card(days=40, end=True).late  # the clock of an end stage has stopped


def test_approvals_count_for_a_csm_only_what_waits_for_them() -> None:
    card = a_card(
        waiting=(
            Waiting("intro email", (("priya@example.com", "Priya Shah"),)),
            Waiting("task 'Users'", (("olivia@example.com", "Olivia Grant"),)),
        )
    )
    assert card.count("approval") == 2 and card.count("approval", "priya@example.com") == 1
    assert card.approvers == "Priya Shah, Olivia Grant"


def test_the_address_filters_are_read_and_a_bad_one_ignored() -> None:
    f = Filters.read(
        MultiDict({"csm": " Sam@Example.com ", "q": "  jane   doe ", "only": "everything"}), LONDON
    )
    assert (f.csm, f.q, f.only, f.tz) == ("sam@example.com", "jane doe", "", "")
    given = Filters.read(MultiDict({"tz": "Europe/London", "only": "overdue"}), LONDON)
    assert (given.tz, given.only) == ("Europe/London", "overdue")
    assert given.args(only="", q="x") == {"tz": "Europe/London", "q": "x"}
    assert not Filters(q="bob").keeps(a_card()) and Filters(q="jane").keeps(a_card())
    assert Filters(team="_main").keeps(a_card()) and not Filters(team="emea").keeps(a_card())


def test_the_cards_of_many_deals_take_as_many_queries_as_those_of_one(harness: Harness) -> None:
    """One query per kind of fact for all the deals of the board, not one per deal."""

    def add(n: int) -> None:
        harness.add_deal(
            f"Deal {n}", contacts=[ContactSpec(f"Jo {n}", f"jo@deal{n}.example", "client_admin")]
        )
        harness.run()

    def statements() -> tuple[int, int]:
        with harness.agent.sessions.begin() as s:
            seen: list[str] = []
            engine = s.get_bind()
            listen = lambda *args: seen.append(args[2])  # noqa: E731
            event.listen(engine, "before_cursor_execute", listen)
            try:
                queries = BoardQueries(s)
                deals = queries.board_deals("standard-onboarding")
                made = cards(queries, deals, harness.agent.runtime.pipelines, harness.clock.now(), LONDON)
            finally:
                event.remove(engine, "before_cursor_execute", listen)
            assert all(c.csm == "Sam Carter" and c.contact.startswith("Jo ") for c in made)
            return len(made), len(seen)

    add(0)
    one = statements()
    for n in (1, 2, 3):
        add(n)
    many = statements()
    assert (one[0], many[0]) == (1, 4) and one[1] == many[1]


def test_a_next_meeting_is_shown_in_the_viewers_zone(harness: Harness) -> None:
    deal = harness.add_deal("Acme Radio")
    harness.run()
    start = harness.clock.now() + timedelta(days=1)
    harness.meeting("acme-call", "Acme Radio check-in", start)
    harness.run()
    with harness.agent.sessions.begin() as s:
        found = Repo(s).deal(deal)
        assert found is not None
        pipelines = harness.agent.runtime.pipelines
        [london] = cards(BoardQueries(s), [found], pipelines, harness.clock.now(), LONDON)
        [tokyo] = cards(BoardQueries(s), [found], pipelines, harness.clock.now(), ZoneInfo("Asia/Tokyo"))
    assert london.next_meeting == "Tue 1 Dec, 09:00"  # 09:00 UTC on a Tuesday in winter
    assert tokyo.next_meeting == "Tue 1 Dec, 18:00"

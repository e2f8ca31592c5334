"""agent.outbox.action_items: the ways note-takers mark what is to be done, who does it and by when."""

from __future__ import annotations

from datetime import date

import pytest

from agent.domain import Address
from agent.outbox.action_items import ActionItem, read_note

PEOPLE = [
    Address("jane@acme-radio.example", "Jane Doe"),
    Address("sam@example.com", "Sam Carter"),
    Address("olivia@example.com", "Olivia Grant"),
]
TUESDAY = date(2026, 12, 1)


def one(line: str, written: date = TUESDAY) -> ActionItem:
    [item] = read_note(line, PEOPLE, written).items
    return item


@pytest.mark.parametrize(
    ("line", "text", "owner", "due"),
    [
        (
            "Action: Jane to send the user list by Friday.",
            "Send the user list",
            "Jane Doe",
            date(2026, 12, 4),
        ),
        ("TODO @Sam share the training plan", "Share the training plan", "Sam Carter", None),
        (
            "- [ ] Confirm SSO (owner: Olivia, due 2026-12-08)",
            "Confirm SSO",
            "Olivia Grant",
            date(2026, 12, 8),
        ),
        (
            "Next step: Acme IT: open the firewall before 10 December",
            "Open the firewall",
            "Acme IT",
            date(2026, 12, 10),
        ),
        (
            "Action item - olivia will approve the plan by end of week",
            "Approve the plan",
            "Olivia Grant",
            date(2026, 12, 4),
        ),
        ("Follow-up: send the contract by Jan 5", "Send the contract", "", date(2027, 1, 5)),
        ("Action: [Jane] invite the admins by tomorrow", "Invite the admins", "Jane Doe", date(2026, 12, 2)),
        ("TODO: we will look at the reports", "We will look at the reports", "", None),
    ],
)
def test_marked_lines_are_items_with_their_owner_and_date(
    line: str, text: str, owner: str, due: date | None
) -> None:
    item = one(line)
    assert (item.text, item.owner, item.due) == (text, owner, due)


def test_a_known_owner_carries_their_address_and_an_unknown_one_none() -> None:
    assert one("Action: Jane to send the list").owner_email == "jane@acme-radio.example"
    assert one("Action: Acme IT: open the firewall").owner_email == ""
    # "X to ..." names an owner only when X is someone of the deal: "Plan to" is not a person
    assert one("Action: Plan to review the data").owner == ""


def test_a_heading_makes_the_list_under_it_items_and_the_rest_stays_a_note() -> None:
    note = read_note(
        "Jane owns the data import.\n\nNext steps:\n- Sam will book the training by Monday\n"
        "1. Olivia: sign off the plan\n\nGo-live is 15 January.",
        PEOPLE,
        TUESDAY,
    )
    assert note.text == "Jane owns the data import.\n\nGo-live is 15 January."
    assert [(i.text, i.owner, i.due) for i in note.items] == [
        ("Book the training", "Sam Carter", date(2026, 12, 7)),
        ("Sign off the plan", "Olivia Grant", None),
    ]


def test_words_that_only_look_like_markers_stay_in_the_note() -> None:
    text = (
        "- [x] Agreed the go-live date\n"
        "actions-based pricing was discussed\n"
        "Improve reporting by monitoring usage\n"
        "We have a todo list for the admins"
    )
    note = read_note(text, PEOPLE, TUESDAY)
    assert note.items == () and note.text == text


@pytest.mark.parametrize(
    ("said", "due"),
    [
        ("by Friday", date(2026, 12, 4)),
        ("by Tuesday", date(2026, 12, 8)),  # said on a Tuesday: the next one
        ("by next Thursday", date(2026, 12, 10)),  # this week's Thursday is "Thursday"
        ("by next Monday", date(2026, 12, 7)),  # Monday is in next week already
        ("due 3 March", date(2027, 3, 3)),  # past this year: next year's
        ("by 4 December 2027", date(2027, 12, 4)),
        ("by end of month", date(2026, 12, 31)),
        ("by today", TUESDAY),
    ],
)
def test_dates_are_read_as_the_writer_meant_them(said: str, due: date) -> None:
    assert one(f"Action: send the list {said}").due == due


def test_a_date_that_is_not_a_day_stays_in_the_words() -> None:
    item = one("Action: send the list by 31 February")
    assert item.due is None and item.text == "Send the list by 31 February"
    assert one("Action: send the list by next sprint").text == "Send the list by next sprint"

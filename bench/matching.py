"""Matching cost per message as the number of deals grows (it must not grow with it).

    .venv/bin/python bench/matching.py [--messages 2000]

Builds SQLite stores with 1,000 and 10,000 deals (10 contacts and one client
domain each, so 10,000 and 100,000 contacts), then matches the same kinds of
message against each: by reply token, by contact, by client domain and by the
deal name in the subject. Prints the time per message and the ratio of each
size to the smallest, measured in the same run. A ratio near 1 means indexed
look-ups; a linear scan would show about 10.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import insert, text

from agent.domain import Address, InboundMessage
from agent.matching import Party, match_message
from agent.store import models as m
from agent.store.db import open_store
from agent.store.repo import Repo

PARTY = Party(("onboarding@example.com",), ("example.com",))
NOW = datetime(2026, 11, 30, tzinfo=UTC)


def build(url: str, deals: int) -> Repo:
    """A store at `url` (SQLite or PostgreSQL) with `deals` deals, 10 contacts and a client domain each."""
    sessions = open_store(url)
    session = sessions()
    ids = range(1, deals + 1)
    # Core inserts, many rows per statement: a million ORM objects would take minutes to build.
    session.execute(
        insert(m.Deal),
        [
            {
                "id": i,
                "name": f"Client {i - 1} Ltd",
                "name_key": f"client {i - 1} ltd",
                "pipeline": "standard-onboarding",
                "stage": "set-up",
                "token": f"T{i - 1:07d}",
                "timezone": "UTC",
                "created_at": NOW,
                "products": [],
                "attributes": {},
            }
            for i in ids
        ],
    )
    session.execute(
        insert(m.Contact),
        [
            {"deal_id": i, "name": f"Person {j}", "email": f"p{j}@client{i - 1}.example", "role": "contact"}
            for i in ids
            for j in range(10)
        ],
    )
    session.execute(insert(m.ClientDomain), [{"deal_id": i, "domain": f"client{i - 1}.example"} for i in ids])
    session.commit()
    if url.startswith("postgresql"):  # the ids were given: the sequence must start after them
        session.execute(text("SELECT setval('deals_id_seq', (SELECT max(id) FROM deals))"))
        session.commit()
    return Repo(session)


def message(kind: str, i: int) -> InboundMessage:
    base = InboundMessage.bare(
        f"<{kind}{i}@x>",
        subject="Hello",
        sender=Address(f"p3@client{i}.example"),
        to=(Address("onboarding@example.com"),),
    )
    if kind == "token":
        return replace(base, to=(Address(f"onboarding+t{i:07d}@example.com"),))
    if kind == "domain":
        return replace(base, sender=Address(f"newcomer@client{i}.example"))
    if kind == "name":
        return replace(base, sender=Address("someone@gmail.com"), subject=f"Re: kick-off for Client {i} Ltd")
    return base  # contact


def measure(repo: Repo, deals: int, count: int) -> dict[str, float]:
    rng = random.Random(7)
    out = {}
    for kind in ("token", "contact", "domain", "name"):
        picks = [rng.randrange(deals) for _ in range(count)]
        started = time.perf_counter()
        for i in picks:
            assert match_message(message(kind, i), repo, PARTY).deal_id == i + 1
        out[kind] = (time.perf_counter() - started) / count * 1e6
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        results = {
            n: measure(build(f"sqlite:///{Path(tmp) / f'{n}.db'}", n), n, args.messages) for n in args.sizes
        }
    base = args.sizes[0]
    print(f"matching cost per message (µs), {args.messages} messages per kind; ratio against {base:,} deals")
    print(
        f"{'layer':<10}"
        + "".join(f"{n:>12,} deals" for n in args.sizes)
        + "".join(f"{'ratio ' + format(n, ','):>16}" for n in args.sizes[1:])
    )
    for kind in results[base]:
        row = f"{kind:<10}" + "".join(f"{results[n][kind]:>18.1f}" for n in args.sizes)
        row += "".join(f"{results[n][kind] / results[base][kind]:>16.2f}" for n in args.sizes[1:])
        print(row)


if __name__ == "__main__":
    main()

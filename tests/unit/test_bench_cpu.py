"""bench/ingest.py's CPU accounting over the rate's window: whose CPU each process's is, and what
counts when processes start, end or have their pid reused between the two snapshots."""

from __future__ import annotations

from bench.ingest import window_cpu

WORKERS = [100, 200]


def test_the_window_counts_workers_their_helpers_and_the_servers_apart() -> None:
    before = {
        100: ("python", 1, 10.0),
        200: ("python", 1, 20.0),
        300: ("imap", 2, 1.0),
        400: ("postgres", 3, 5.0),
        500: ("python", 1, 50.0),  # the bench itself: not a worker, nor a worker's child
    }
    after = {
        100: ("python", 1, 12.5),
        200: ("python", 1, 21.0),
        300: ("imap", 2, 1.25),
        400: ("postgres", 3, 5.5),
        500: ("python", 1, 80.0),
        101: ("python", 100, 3.0),  # a parsing helper, started during the window: all of it counts
    }
    assert window_cpu(before, after, WORKERS) == {
        "main": 3.5,
        "helpers": 3.0,
        "imap": 0.25,
        "postgres": 0.5,
    }


def test_a_process_that_ended_is_left_out_and_a_reused_pid_counts_from_nothing() -> None:
    before = {100: ("python", 1, 10.0), 300: ("imap", 2, 4.0), 301: ("imap", 2, 2.0)}
    # 300 ended; its pid went to another IMAP process, whose CPU is its own since it started
    after = {100: ("python", 1, 11.0), 300: ("postgres", 3, 0.5), 301: ("imap", 2, 2.5)}
    assert window_cpu(before, after, WORKERS) == {
        "main": 1.0,
        "helpers": 0.0,
        "imap": 0.5,
        "postgres": 0.5,
    }

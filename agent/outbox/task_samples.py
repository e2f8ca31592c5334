"""What the task emails are given, for `check` to render them on a sample deal (agent.outbox.context).

The real values are built by agent.handling.task_mail (`task`), agent.handling.reminders
(`escalation`) and agent.reports.progress (`informed`, `plan`); every key they fill is here.
"""

from __future__ import annotations

from typing import Any


def task_samples() -> dict[str, Any]:
    stages = [{"name": "Set-Up", "date": "Monday 2 March"}]
    tasks = [{"title": "Send us the list of users", "date": "Friday 27 February"}]
    return {
        "task": {
            "id": "user-list",
            "title": "Send us the list of users",
            "description": "Everyone who takes the training: name, email and team",
            "due": "Friday 6 March",
            "due_date": "2026-03-06",
            "stage": "Set-Up",
            "side": "client",
            "responsible": {
                "role": "client_admin",
                "title": "Client administrator",
                "names": "Jane Client (jane@acme-radio.example)",
            },
            "accountable": {"role": "csm", "title": "Customer Success Manager", "names": "Sam CSM"},
        },
        "escalation": {"instead": ""},
        "informed": {"since": "Monday 23 February", "stages": stages, "tasks": tasks, "meetings": []},
        "plan": {
            "since": "Monday 23 February",
            "tasks": [
                {
                    "title": "Send us the list of users",
                    "due": "Friday 6 March",
                    "overdue": "",
                    "owner": "Jane",
                },
                {"title": "Choose your admins", "due": "", "overdue": "", "owner": ""},
            ],
            "meeting": {
                "title": "Acme Radio training",
                "date": "Tuesday 10 March",
                "time": "10:00",
                "timezone": "Europe/London",
            },
            "done": {
                "stages": stages,
                "tasks": tasks,
                "meetings": [{"title": "Acme Radio introduction call", "date": "Thursday 26 February"}],
            },
        },
    }

"""Calendar backends: where meetings come from (ics folder, caldav, graph, exchange), and their parsing.

The Protocol is in `base`; every backend hands over iCalendar bytes (`vevent` writes them
for the servers that speak JSON or EWS), which `parse` reads into meetings with `timezones`.
Each backend module has a `from_config`; agent.backends picks one by the `[calendar]
backend` name, and "invites" means no calendar source: invitations come with the mail.
"""

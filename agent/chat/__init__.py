"""Chat services the agent posts notifications to: Slack (a webhook or the Web API) and Microsoft Teams."""

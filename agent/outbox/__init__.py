"""The outbox: render, queue, re-check and send the agent's emails."""

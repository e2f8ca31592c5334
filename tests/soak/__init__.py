"""Long runs, opt-in (`pytest -m soak`): see docs/testing.md."""

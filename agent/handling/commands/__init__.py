"""Commands our people give the agent by email: the grammar, and one module per command that carries it out."""

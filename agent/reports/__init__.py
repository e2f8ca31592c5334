"""Reports over the store: the scorecard, digests."""

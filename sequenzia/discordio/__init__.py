"""Discord I/O: the single writer to Discord, its job journal, lease and bridge."""

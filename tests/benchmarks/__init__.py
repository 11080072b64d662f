"""make bench and make stress: measurements and load runs, kept out of the product wheel."""

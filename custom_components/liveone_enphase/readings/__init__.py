"""What Home Assistant shows: per-system readings merged from the polls, and the poll runner."""

"""Benchmarks that drive the integration's pure parts against the simulators and print tables."""

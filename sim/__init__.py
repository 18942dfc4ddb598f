"""Simulators of the Enphase cloud and the LiveOne receiver, for tests, the demo and benchmarks."""

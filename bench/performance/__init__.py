"""Benchmarks of speed and resources: the daemon against a bare consumer, offline scoring."""

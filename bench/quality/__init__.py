"""Benchmarks of detection quality: SKAB (the benchmark's protocol) and simulated anomalies."""

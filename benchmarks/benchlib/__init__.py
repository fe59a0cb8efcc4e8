"""Shared pieces of the benchmarks: set-up, machine stamp, loop meter, latency, the floor."""

"""Benchmarks of atoms: ratios measured in one run (RLS, server overhead, writes, rate limit, audit, scaling)."""

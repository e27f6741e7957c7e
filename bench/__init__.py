"""Benchmarks of badgebot's storage; not part of the installed package."""

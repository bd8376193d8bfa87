"""The benchmark: bootstrap-flows against what a user would otherwise do (see bench/run.py)."""

"""Teardown's two ends: the drain before anything is destroyed (pool paused, flow-run tasks
stopped, what bootstrap registered and pushed removed) and the receipt after (what AWS still
holds for the environment, listed from AWS)."""

"""Configuration: the settings model, the environment files, the offline checks settings run
while loading, AWS's own limits, and the target (where AWS and the worker's Prefect are)."""

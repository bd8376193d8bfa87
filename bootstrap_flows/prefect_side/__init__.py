"""The Prefect side: the ECS work pool, the storage blocks, the worker's heartbeat, the end-to-end
test flows, the client of the worker's Prefect, deployments' registration, crash detection."""

"""The local ECS runtime: runs the emulated ECS's tasks as containers, as Fargate would."""

"""The local ECS runtime: runs the emulated ECS's tasks as containers, as Fargate would.

`runtime` is the loop (`python -m bootstrap_local.ecs_runtime` runs it); `spec` turns a
task into a `ContainerSpec` without I/O and `executor` runs specs in Docker; `events`, `logs`,
`secret_values`, `images`, `roles` (each task's own role credentials) and `services` do what
ECS does around a task; `emulator` is the ECS API as
moto answers it, with its quirks worked around; `clients`, `tasks` and `errors` are shared.
"""

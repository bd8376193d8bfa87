"""Terraform: the runner that streams `-json` events, and the root stacks it applies.

`runner` drives the CLI; `stacks` opens a stack against its state in S3; `state_backend` makes
that bucket; `platform_stack` and `worker_stack` turn settings into each stack's variables and
its outputs into typed values the next stages take.
"""

"""What the `drift-check` flow (`flows/drift_check.py`) asks: does the environment still match
its code, settings and pool?

Checks, all read-only (no Terraform state lock, no environment lock, nothing created):

- each Terraform stack: one normal plan, whose refresh gives drift (what changed outside
  Terraform, attribute by attribute from `resource_drift[]`) and whose changes give pending
  (code or settings never applied);
- the ECS work pool: exists, not paused, the template defaults bootstrap owns are as it set them;
- the worker: a recent heartbeat, and the ECS service running what it should;
- the image: the digest the pool and the worker stack point to is still in ECR.

Findings go to a table artifact and a summary artifact. The run ends Completed when clean, Failed
named "Drifted" when anything was found, Failed named "CheckFailed" when a check could not run
(credentials, network, a Terraform error): never the one for the other. An event is emitted only
when the set of findings changes (bookkeeping in the Prefect Variable `drift-<env>`), so a
drifted environment checked every 30 minutes notifies once.

Modules: `findings` (Finding, DriftReport, errors) · `diff` (value diffs) · `rules` (companion
resources, declared values, ignore patterns) · `plans` (Terraform plans → findings) · `checks`
(pool, worker, image) · `bookkeeping` (Variable, events) · `report` (artifacts, final state).
"""

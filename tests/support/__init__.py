"""The suite's own tooling, kept apart from the product's tests (README, Testing).

What tests use but do not test: recorded AWS calls mapped to the IAM requests they make
(`aws_calls`, judged by `bootstrap_local.iam_policy`), the audit of those calls against the
roles' grants (`iam_grants`), a wrapper around the parliament linter (`iam_lint`), a scanner for
a secret in files, images and databases (`leak_search`), servers a module starts for itself
(`servers`), a Terraform tree applied on a test's own moto (`terraform_trees`), what the image
tests share (`images`), flow runs waiting on a pause (`paused`), the refused-inputs table
(`refusals`), sample outputs (`samples`), and what the session chose before Prefect was imported
(`session`, `ports`). Its own tests are in `tests/support/tests/`.
"""

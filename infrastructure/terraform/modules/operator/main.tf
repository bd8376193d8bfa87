locals {
  stack        = "${var.name_prefix}-${var.environment}"
  state_bucket = coalesce(var.state_bucket, "${local.stack}-tfstate-${var.account_id}")

  # One copy of the policy: bootstrap_flows/safety/operator_policy.py renders the same file
  # with the same names for `bootstrap-flows operator-policy <env>`.
  policy_json = templatefile("${path.module}/policy.json.tftpl", {
    name_prefix  = var.name_prefix
    environment  = var.environment
    stack        = local.stack
    account_id   = var.account_id
    region       = var.region
    partition    = var.partition
    state_bucket = local.state_bucket
  })
}

resource "aws_iam_policy" "this" {
  count = var.create_policy ? 1 : 0

  name        = coalesce(var.policy_name, "${local.stack}-operator")
  path        = var.policy_path
  description = "What bootstrap, drift-check and teardown of ${local.stack} need (modules/operator)."
  policy      = local.policy_json
}

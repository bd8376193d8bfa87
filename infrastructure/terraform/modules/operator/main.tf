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

  # IAM refuses a customer managed policy over 6,144 characters (whitespace not counted), and
  # the whole policy is about 11,000: it is created as parts of 7 statements each (4 parts;
  # tests/unit/test_operator_policy.py keeps every part under the limit for the longest names
  # settings accept).
  statements_per_part = 7
  statements          = jsondecode(local.policy_json).Statement
  # The statements are a tuple of differently shaped objects, which chunklist refuses.
  parts_json = [
    for start in range(0, length(local.statements), local.statements_per_part) : jsonencode({
      Version   = "2012-10-17"
      Statement = slice(local.statements, start, min(start + local.statements_per_part, length(local.statements)))
    })
  ]
}

resource "aws_iam_policy" "this" {
  count = var.create_policy ? length(local.parts_json) : 0

  name        = "${coalesce(var.policy_name, "${local.stack}-operator")}-${count.index + 1}"
  path        = var.policy_path
  description = "What bootstrap, drift-check and teardown of ${local.stack} need (modules/operator), part ${count.index + 1} of ${length(local.parts_json)}."
  policy      = local.parts_json[count.index]
}

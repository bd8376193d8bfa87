resource "aws_cloudwatch_log_group" "this" {
  #checkov:skip=CKV_AWS_338:Retention is a per-environment variable (default 14 days); one-year retention of worker logs is a cost decision, not a default.
  name              = var.name
  retention_in_days = var.retention_in_days
  kms_key_id        = var.kms_key_arn

  tags = var.tags
}

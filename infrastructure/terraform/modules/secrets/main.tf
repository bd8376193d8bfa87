# Only the secret container is managed here. There is deliberately NO
# aws_secretsmanager_secret_version: the bootstrap flow writes the value with
# boto3 (PutSecretValue) after apply, so the API key never appears in
# Terraform plan files or state.
resource "aws_secretsmanager_secret" "this" {
  #checkov:skip=CKV2_AWS_57:A Prefect API key cannot be rotated by a Secrets Manager Lambda; it is rotated in Prefect and re-written by the bootstrap flow.
  name                    = var.name
  description             = var.description
  recovery_window_in_days = var.recovery_window_in_days
  kms_key_id              = var.kms_key_id

  tags = var.tags
}

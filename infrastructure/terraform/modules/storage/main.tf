locals {
  buckets = {
    code    = var.code_bucket_name
    results = var.results_bucket_name
  }
}

resource "aws_s3_bucket" "this" {
  #checkov:skip=CKV_AWS_18:Access logging needs a log bucket of its own per environment; CloudTrail data events are the account-wide choice where object access must be audited.
  #checkov:skip=CKV_AWS_144:Cross-region replication doubles cost; flow code is re-pushed from its source and results are re-computable.
  #checkov:skip=CKV_AWS_145:SSE-S3 (AES256) avoids a per-environment KMS key and its cost; every object is encrypted at rest.
  #checkov:skip=CKV2_AWS_62:No consumer of object events exists; Prefect reads results through its API.
  #checkov:skip=CKV2_AWS_6:Public access block, versioning and lifecycle are the for_each resources below (one per bucket); checkov links them to one instance only, seen from a module call.
  #checkov:skip=CKV_AWS_21:Versioning is aws_s3_bucket_versioning.this below (one per bucket, Enabled).
  #checkov:skip=CKV2_AWS_61:The lifecycle is aws_s3_bucket_lifecycle_configuration.this below (one per bucket).
  for_each = local.buckets

  bucket        = each.value
  force_destroy = var.force_destroy

  tags = merge(var.tags, { Purpose = "flow-${each.key}" })
}

# Object ownership by the bucket owner disables ACLs: access is decided by IAM and the bucket
# policy alone.
resource "aws_s3_bucket_ownership_controls" "this" {
  for_each = aws_s3_bucket.this

  bucket = each.value.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "this" {
  for_each = aws_s3_bucket.this

  bucket                  = each.value.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_server_side_encryption_configuration" "this" {
  for_each = aws_s3_bucket.this

  bucket = each.value.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
    # Said, not left null: S3 reports false, so a refresh would show it as a change.
    bucket_key_enabled = false
  }
}

resource "aws_s3_bucket_versioning" "this" {
  for_each = aws_s3_bucket.this

  bucket = each.value.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "this" {
  for_each = aws_s3_bucket.this

  bucket = each.value.id

  rule {
    id     = "expire-noncurrent-versions"
    status = "Enabled"

    # Every object. Written as S3 returns it ({} comes back as Prefix ""), so the provider's
    # wait for the rule to read back settles at once.
    filter {
      prefix = ""
    }

    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_expiration_days
    }

    # Interrupted multipart uploads (large results) are invisible but billed.
    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }

  # Lifecycle rules apply to versions, so versioning comes first.
  depends_on = [aws_s3_bucket_versioning.this]
}

data "aws_iam_policy_document" "tls_only" {
  for_each = aws_s3_bucket.this

  statement {
    sid     = "DenyInsecureTransport"
    effect  = "Deny"
    actions = ["s3:*"]
    resources = [
      each.value.arn,
      "${each.value.arn}/*",
    ]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "this" {
  for_each = aws_s3_bucket.this

  bucket = each.value.id
  policy = data.aws_iam_policy_document.tls_only[each.key].json

  # A policy put while the public access block is being written can be refused by S3.
  depends_on = [aws_s3_bucket_public_access_block.this]
}

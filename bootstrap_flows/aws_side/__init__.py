"""The AWS side: boto3 clients built from the target, typed per service."""

"""boto3 clients built from settings and the target, so every stage talks to the same AWS."""

from __future__ import annotations

import base64
import logging
import os
import threading
from collections.abc import Iterator
from functools import cache
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, overload
from urllib.parse import urlparse

import boto3
import botocore.loaders
import botocore.session
from botocore.exceptions import ClientError

from bootstrap_flows import call_counts
from bootstrap_flows.config.settings import BootstrapSettings
from bootstrap_flows.config.target import resolve

if TYPE_CHECKING:
    from mypy_boto3_ec2.client import EC2Client
    from mypy_boto3_ecr.client import ECRClient
    from mypy_boto3_ecs.client import ECSClient
    from mypy_boto3_events.client import EventBridgeClient
    from mypy_boto3_iam.client import IAMClient
    from mypy_boto3_logs.client import CloudWatchLogsClient
    from mypy_boto3_s3.client import S3Client
    from mypy_boto3_s3.type_defs import DeleteMarkerEntryTypeDef, ObjectVersionTypeDef
    from mypy_boto3_secretsmanager.client import SecretsManagerClient
    from mypy_boto3_sqs.client import SQSClient
    from mypy_boto3_ssm.client import SSMClient
    from mypy_boto3_sts.client import STSClient


class _RedactSecrets(logging.Filter):
    """botocore logs whole response bodies at DEBUG: ECR tokens and secret values included."""

    MARKERS = ("authorizationToken", "SecretString", "SecretBinary", '"Parameter"')

    def filter(self, record: logging.LogRecord) -> bool:
        if any(marker in record.getMessage() for marker in self.MARKERS):
            record.msg = "Response body: <redacted: it holds a token or secret value>"
            record.args = ()
        return True


@cache
def partition(region: str) -> str:
    """The partition of `region` ("aws", "aws-cn", "aws-us-gov", ...), from botocore's own
    endpoint data: every ARN in it starts with arn:<partition>:. Once per region and process:
    each answer loads botocore's endpoint data into a new session (~45 ms), and it never changes."""
    return str(boto3.session.Session().get_partition_for_region(region))


def redact_secrets() -> None:
    """Install the filter once; every client made here (and so every stage) is covered."""
    parsers = logging.getLogger("botocore.parsers")
    if not any(isinstance(existing, _RedactSecrets) for existing in parsers.filters):
        parsers.addFilter(_RedactSecrets())


redact_secrets()


def aws_environment(settings: BootstrapSettings) -> dict[str, str]:
    """Environment variables that point a child process (terraform, a worker) at our AWS."""
    target = resolve(settings)
    env = {"AWS_REGION": settings.aws_region, "AWS_DEFAULT_REGION": settings.aws_region}
    if target.endpoint_url:
        env["AWS_ENDPOINT_URL"] = target.endpoint_url
    return env | target.aws_env


@overload
def client(settings: BootstrapSettings, service: Literal["ec2"], **kwargs: Any) -> EC2Client: ...


@overload
def client(settings: BootstrapSettings, service: Literal["ecr"], **kwargs: Any) -> ECRClient: ...


@overload
def client(settings: BootstrapSettings, service: Literal["ecs"], **kwargs: Any) -> ECSClient: ...


@overload
def client(
    settings: BootstrapSettings, service: Literal["events"], **kwargs: Any
) -> EventBridgeClient: ...


@overload
def client(settings: BootstrapSettings, service: Literal["iam"], **kwargs: Any) -> IAMClient: ...


@overload
def client(
    settings: BootstrapSettings, service: Literal["logs"], **kwargs: Any
) -> CloudWatchLogsClient: ...


@overload
def client(settings: BootstrapSettings, service: Literal["s3"], **kwargs: Any) -> S3Client: ...


@overload
def client(
    settings: BootstrapSettings, service: Literal["secretsmanager"], **kwargs: Any
) -> SecretsManagerClient: ...


@overload
def client(settings: BootstrapSettings, service: Literal["sqs"], **kwargs: Any) -> SQSClient: ...


@overload
def client(settings: BootstrapSettings, service: Literal["ssm"], **kwargs: Any) -> SSMClient: ...


@overload
def client(settings: BootstrapSettings, service: Literal["sts"], **kwargs: Any) -> STSClient: ...


@overload
def client(settings: BootstrapSettings, service: str, **kwargs: Any) -> Any: ...


def client(settings: BootstrapSettings, service: str, **kwargs: Any) -> Any:
    """A boto3 client for `service` in the configured region, at the target's endpoint.

    Typed per service (boto3 type stubs, a test dependency) for the services we use, so mypy
    checks every call's name and arguments. Made once per settings object, service and the
    credentials the environment names (boto3 clients are thread-safe; sessions are not), unless
    the call passes options of its own.
    """
    if kwargs:
        return _new_client(settings, service, **kwargs)
    key = (service, _credential_key())
    made = settings._clients.get(key)
    if made is None:
        made = settings._clients[key] = _new_client(settings, service)
    return made


def _new_client(settings: BootstrapSettings, service: str, **kwargs: Any) -> Any:
    target = resolve(settings)
    if target.endpoint_url:
        kwargs.setdefault("endpoint_url", target.endpoint_url)
    if "AWS_ACCESS_KEY_ID" in target.aws_env:
        kwargs.setdefault("aws_access_key_id", target.aws_env["AWS_ACCESS_KEY_ID"])
        kwargs.setdefault("aws_secret_access_key", target.aws_env["AWS_SECRET_ACCESS_KEY"])
    # The stubs only accept literal service names; the overloads above keep the types.
    make: Any = session().client
    made = make(service, region_name=settings.aws_region, **kwargs)
    call_counts.watch_aws_client(made)
    return made


# Parsed service models, shared by every session: a fresh session reads and parses them again,
# 100-250 ms per client (ec2 the most) against 5-20 ms with this loader.
_MODELS = botocore.loaders.create_loader()
_SESSIONS = threading.local()
# What the default credential chain reads from the environment: another value, another session.
_CREDENTIAL_ENV = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
)


def _credential_key() -> tuple[str | None, ...]:
    return tuple(os.environ.get(name) for name in _CREDENTIAL_ENV)


def session() -> boto3.session.Session:
    """This thread's session for the credentials the environment names now.

    One per thread: boto3 sessions are not thread-safe. Kept, because a session resolves the
    default credential chain once (refreshable credentials still refresh); a change of the
    variables that chain reads gets a new one.
    """
    key = _credential_key()
    sessions: dict[tuple[str | None, ...], boto3.session.Session]
    sessions = _SESSIONS.__dict__.setdefault("by_credentials", {})
    if key not in sessions:
        core = botocore.session.get_session()
        core.register_component("data_loader", _MODELS)
        sessions[key] = boto3.session.Session(botocore_session=core)
    return sessions[key]


class RegistryLogin(NamedTuple):
    """What ECR's authorization token decodes to; the password never goes on a command line."""

    user: str
    password: str
    host: str


def ecr_login(ecr: ECRClient) -> RegistryLogin:
    """Decode ECR's authorization token (base64 of `user:password`) and its registry host."""
    data = ecr.get_authorization_token()["authorizationData"][0]
    user, _, password = base64.b64decode(data["authorizationToken"]).decode().partition(":")
    return RegistryLogin(user, password, urlparse(str(data.get("proxyEndpoint", ""))).netloc)


def object_versions(
    settings: BootstrapSettings, bucket: str, prefix: str = ""
) -> Iterator[list[ObjectVersionTypeDef | DeleteMarkerEntryTypeDef]]:
    """Each page of versions and delete markers under `prefix` (none when the bucket is gone):
    a versioned bucket is only empty without every one of them."""
    s3 = client(settings, "s3")
    try:
        for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix):
            yield [*page.get("Versions", []), *page.get("DeleteMarkers", [])]
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "NoSuchBucket":
            raise


def delete_versions(
    settings: BootstrapSettings, bucket: str, prefix: str, exact: bool = False
) -> list[str]:
    """Delete every version (and delete marker) under `prefix`, or of the key `prefix` when
    `exact`; return the keys that went."""
    s3 = client(settings, "s3")
    deleted: set[str] = set()
    for page in object_versions(settings, bucket, prefix):
        versions = [v for v in page if not exact or v["Key"] == prefix]
        if versions:
            s3.delete_objects(
                Bucket=bucket,
                Delete={
                    "Objects": [{"Key": v["Key"], "VersionId": v["VersionId"]} for v in versions]
                },
            )
            deleted |= {v["Key"] for v in versions}
    return sorted(deleted)

"""The embedded default's moto behaves like AWS where a re-apply after drift needs it to."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.ec2.models.nat_gateways import NatGatewayBackend

from bootstrap_local import aws_like
from bootstrap_local.aws_like.limits import stock


@pytest.fixture
def ec2(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """moto in this process, unpatched; the test decides (the original comes back afterwards)."""
    monkeypatch.setattr(
        NatGatewayBackend, "delete_nat_gateway", stock(NatGatewayBackend, "delete_nat_gateway")
    )
    with mock_aws():
        yield boto3.client("ec2", region_name="us-east-1")


def nat_gateway(ec2: Any) -> tuple[str, str, str, str]:
    """(subnet, allocation, gateway, its network interface) of a new public NAT gateway."""
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.0.0/24")["Subnet"]["SubnetId"]
    allocation = ec2.allocate_address(Domain="vpc")["AllocationId"]
    nat = ec2.create_nat_gateway(SubnetId=subnet, AllocationId=allocation)["NatGateway"]
    interface = nat["NatGatewayAddresses"][0]["NetworkInterfaceId"]
    return subnet, allocation, nat["NatGatewayId"], interface


def test_stock_moto_keeps_the_address_of_a_deleted_nat_gateway(ec2: Any) -> None:
    """Why the patch exists. If this fails, moto does what AWS does: drop the patch."""
    subnet, allocation, nat, _ = nat_gateway(ec2)
    ec2.delete_nat_gateway(NatGatewayId=nat)
    [address] = ec2.describe_addresses(AllocationIds=[allocation])["Addresses"]
    assert address.get("AssociationId")
    with pytest.raises(ec2.exceptions.ClientError, match="AlreadyAssociated"):
        ec2.create_nat_gateway(SubnetId=subnet, AllocationId=allocation)


def test_deleting_a_nat_gateway_frees_its_address_and_interface_as_aws_does(ec2: Any) -> None:
    aws_like.patch()
    aws_like.patch()  # a second patch must not wrap the first
    subnet, allocation, nat, interface = nat_gateway(ec2)
    ec2.delete_nat_gateway(NatGatewayId=nat)
    [address] = ec2.describe_addresses(AllocationIds=[allocation])["Addresses"]
    # Disassociated, still allocated: Terraform's EIP survives the gateway.
    assert not address.get("AssociationId") and not address.get("NetworkInterfaceId")
    interfaces = ec2.describe_network_interfaces()["NetworkInterfaces"]
    assert interface not in {i["NetworkInterfaceId"] for i in interfaces}
    # What the re-apply does: a new gateway with the same address.
    again = ec2.create_nat_gateway(SubnetId=subnet, AllocationId=allocation)["NatGateway"]
    [address] = ec2.describe_addresses(AllocationIds=[allocation])["Addresses"]
    assert address["NetworkInterfaceId"] == again["NatGatewayAddresses"][0]["NetworkInterfaceId"]
    # Deleting twice (Terraform's destroy after a delete by hand) finds nothing left to undo.
    ec2.delete_nat_gateway(NatGatewayId=nat)
    [address] = ec2.describe_addresses(AllocationIds=[allocation])["Addresses"]
    assert address.get("AssociationId")

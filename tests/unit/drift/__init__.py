"""Fast tests of the drift check's pure logic: no servers, no Terraform, no AWS."""

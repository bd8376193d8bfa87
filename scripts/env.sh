# Sourced by the other scripts: finds what this machine offers that the project can use.
# A Terraform provider filesystem mirror (machines with no registry access): use it if present.
if [ -z "${BOOTSTRAP_TERRAFORM_PROVIDER_MIRROR:-}" ]; then
  for dir in /opt/tf-plugins /usr/share/terraform/plugins "$HOME/.terraform.d/plugins"; do
    if [ -d "$dir/registry.terraform.io/hashicorp/aws" ]; then
      export BOOTSTRAP_TERRAFORM_PROVIDER_MIRROR="$dir"
      break
    fi
  done
fi
# A host that trusts an extra CA (a TLS-intercepting proxy) names its bundle in SSL_CERT_FILE;
# pip inside the worker image build must trust the same bundle.
if [ -z "${BOOTSTRAP_EXTRA_CA_BUNDLE:-}" ] && [ -n "${SSL_CERT_FILE:-}" ] && [ -f "$SSL_CERT_FILE" ]; then
  export BOOTSTRAP_EXTRA_CA_BUNDLE="$SSL_CERT_FILE"
fi

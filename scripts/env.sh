# Sourced by the other scripts (after setup.sh): what a shell on this machine needs.
# This machine's Terraform provider mirror, for the tests and benchmarks that run Terraform
# themselves; the embedded default finds it the same way for every process it starts.
if [ -z "${BOOTSTRAP_TERRAFORM_PROVIDER_MIRROR:-}" ]; then
  mirror="$(.venv/bin/python -m bootstrap_local.provider_mirror)"
  if [ -n "$mirror" ]; then export BOOTSTRAP_TERRAFORM_PROVIDER_MIRROR="$mirror"; fi
fi
# A host that trusts an extra CA (a TLS-intercepting proxy) names its bundle in SSL_CERT_FILE;
# pip inside the worker image build must trust the same bundle.
if [ -z "${BOOTSTRAP_EXTRA_CA_BUNDLE:-}" ] && [ -n "${SSL_CERT_FILE:-}" ] && [ -f "$SSL_CERT_FILE" ]; then
  export BOOTSTRAP_EXTRA_CA_BUNDLE="$SSL_CERT_FILE"
fi

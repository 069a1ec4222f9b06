#!/usr/bin/env bash
# Runs every test of the project on a fresh clone: installs the Python tools
# into .venv, then formatting and lint checks, all Rust tests (emulator tests
# included) and cfn-lint on the SAM template.
set -euo pipefail
cd "$(dirname "$0")/.."

venv=${TRIAGE_VENV:-$PWD/.venv}
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r tests/requirements.txt
export TRIAGE_VENV=$venv
export PATH="$venv/bin:$PATH"
# Tests talk only to servers they start on 127.0.0.1; never to a real account.
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1
unset AWS_PROFILE AWS_SESSION_TOKEN || true

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --quiet -- -D warnings
echo "== cfn-lint infra/template.yaml"
cfn-lint infra/template.yaml
echo "== cargo test (emulator tests included)"
cargo test --workspace -- --include-ignored

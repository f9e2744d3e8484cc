#!/bin/sh
# Installs a cargo tool: `scripts/cargo-install.sh CRATE [VERSION]`.
# `--locked` first (the versions the tool's authors tested); when the registry does not serve one
# of the versions its lockfile pins (yanked, or never mirrored here), it installs again without
# `--locked`, so that cargo resolves the newest compatible versions, and says so.
set -eu
crate=$1
version=${2:+--version $2}
# shellcheck disable=SC2086
if ! cargo install "$crate" $version --locked; then
  echo "cargo-install: '$crate' with --locked failed (a version its lockfile pins is not served); installing it without --locked" >&2
  cargo install "$crate" $version
fi

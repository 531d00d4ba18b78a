#!/usr/bin/env bash
# `make image`: the container image. Builds the static server (x86_64 musl, release; Debian's
# musl-tools compiles the C parts), the release site, then the Containerfile, which only
# copies them. With buildah (vfs storage, as on machines without a container engine) unless
# docker is there to build it.
#   IMAGE=registry.example.com/platform/portcullis:0.1.0 make image
#   PROFILE=debug (the test's image: the same file, built in a fraction of the time)
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
image="${IMAGE:-localhost/portcullis:latest}"
target_dir="${CARGO_TARGET_DIR:-$root/target}"
musl=x86_64-unknown-linux-musl
profile="${PROFILE:-release}"
release=(); [ "$profile" = release ] && release=(--release)

rustup target list --installed | grep -qx "$musl" || rustup target add "$musl"
echo "==> the static server ($musl, $profile)"
# Components erased as cargo-leptos builds the site (always-erase-components): the server
# renders the very views the browser hydrates.
CC_x86_64_unknown_linux_musl=musl-gcc RUSTFLAGS="${RUSTFLAGS:-} --cfg erase_components" \
  cargo build "${release[@]}" --locked --target "$musl" -p server --bin portcullis
echo "==> the site ($profile wasm, css)"
# Split into sections the browser fetches as it needs them (--split; see app::ui). A release
# site ships each file compressed beside it (-P: .br and .gz, served as they are).
precompress=(); [ "$profile" = release ] && precompress=(-P)
CARGO_BUILD_JOBS="${CARGO_BUILD_JOBS:-1}" cargo leptos build --split "${release[@]}" "${precompress[@]}" --frontend-only

rm -rf target/image && mkdir -p target/image
objcopy --strip-all "$target_dir/$musl/$profile/portcullis" target/image/portcullis
cp -r target/site target/image/site
# Which hashed names the site's files have (hash-files): beside the server, where it looks.
cp "$target_dir/$profile/hash.txt" target/image/hash.txt
file target/image/portcullis | grep -Eq 'statically linked|static-pie linked' || { echo "the server is not static" >&2; exit 1; }

echo "==> $image"
if command -v buildah >/dev/null; then
  buildah --storage-driver vfs bud --isolation chroot --format docker --layers=false -q -t "$image" -f Containerfile .
  buildah --storage-driver vfs images --format '{{.Name}}:{{.Tag}} {{.Size}}' "$image"
else
  docker build -t "$image" -f Containerfile .
fi

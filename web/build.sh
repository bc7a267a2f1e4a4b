#!/usr/bin/env bash
# Builds the KafkaScope web app (kafkascope-viz for wasm32 + wasm-bindgen JS glue + index.html) into $OUT.
# Env: PROFILE (cargo profile, default web-release), OUT (default ${CARGO_TARGET_DIR:-target}/dist),
#      TOOLS (where wasm-bindgen-cli is installed, default ~/.cache/kafkascope/tools), WASM_OPT=1 (also run wasm-opt).
set -euo pipefail
cd "$(dirname "$0")/.."

PROFILE="${PROFILE:-web-release}"
TARGET_DIR="${CARGO_TARGET_DIR:-target}"
OUT="${OUT:-$TARGET_DIR/dist}"
TOOLS="${TOOLS:-$HOME/.cache/kafkascope/tools}"

rustup target add wasm32-unknown-unknown >/dev/null   # no-op when already installed

# The exact wasm-bindgen version the lockfile resolved: the CLI must match the library exactly.
V=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/[^0-9.]/, "", $0); print; exit }' Cargo.lock)
if [ -z "$V" ]; then
    echo "build.sh: no wasm-bindgen entry in Cargo.lock (is kafkascope-viz's wasm32 dependency set resolved?)" >&2
    exit 1
fi
if [ "$("$TOOLS/bin/wasm-bindgen" --version 2>/dev/null | awk '{print $2}')" != "$V" ]; then
    echo "== installing wasm-bindgen-cli $V into $TOOLS"
    # Deliberately without --locked: the CLI's own lockfile fails to build here.
    cargo install --root "$TOOLS" wasm-bindgen-cli --version "$V"
fi

# getrandom 0.3 on wasm32-unknown-unknown needs its backend chosen by a cfg flag as well as the wasm_js
# feature; getrandom 0.4 (what bevy_egui pulls in today) does not. Only add the flag when a 0.3 is locked.
if awk '/^name = "getrandom"$/ { getline; if ($0 ~ /^version = "0\.3\./) found = 1 } END { exit !found }' Cargo.lock; then
    export RUSTFLAGS="${RUSTFLAGS:-} --cfg getrandom_backend=\"wasm_js\""
fi

echo "== cargo build -p kafkascope-viz --target wasm32-unknown-unknown --profile $PROFILE"
cargo build --locked -p kafkascope-viz --target wasm32-unknown-unknown --profile "$PROFILE"
WASM="$TARGET_DIR/wasm32-unknown-unknown/$PROFILE/kafkascope-viz.wasm"

mkdir -p "$OUT"
rm -f "$OUT/kafkascope_viz.js" "$OUT/kafkascope_viz_bg.wasm" "$OUT/index.html" "$OUT/OFL.txt"
echo "== wasm-bindgen $V -> $OUT"
"$TOOLS/bin/wasm-bindgen" --target web --no-typescript --out-name kafkascope_viz --out-dir "$OUT" "$WASM"

BG="$OUT/kafkascope_viz_bg.wasm"
if [ "${WASM_OPT:-0}" = 1 ]; then
    # npm's binaryen 132, never Debian's binaryen (its old wasm-opt produced a wasm that fails at run time).
    # Slow: minutes on 2 cores. Rust >= 1.82 emits reference-types and multivalue by default, so enable those too.
    echo "== wasm-opt -Oz (npm binaryen@132)"
    npx --yes -p binaryen@132 wasm-opt -Oz \
        --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext --enable-mutable-globals \
        --enable-reference-types --enable-multivalue \
        -o "$BG.opt" "$BG"
    mv "$BG.opt" "$BG"
fi

cp web/index.html "$OUT/"
if [ -f viz/assets/fonts/OFL.txt ]; then
    cp viz/assets/fonts/OFL.txt "$OUT/"   # the embedded font's licence travels with the app
else
    echo "build.sh: warning: viz/assets/fonts/OFL.txt not found, not copied" >&2
fi

raw=$(wc -c <"$BG")
gz=$(gzip -9 -c "$BG" | wc -c)
awk -v r="$raw" -v g="$gz" -v out="$OUT" 'BEGIN { printf "== %s: wasm %.2f MB raw, %.2f MB gzipped\n", out, r / 1048576, g / 1048576 }'

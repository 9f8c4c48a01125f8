#!/usr/bin/env bash
# Remakes docs/demo.png, the README's picture of the demo page: runs the real-browser test
# (tests/browser/, which writes its screenshots under target/tmp/browser/), then shrinks the
# page past its 75 % mark to a 40-colour PNG without dithering (flat colours and text stay
# sharp; the README wants it under 150 KB) with pngquant (apt-get install -y pngquant).
set -euo pipefail
cd "$(dirname "$0")/.."

command -v pngquant >/dev/null || { echo "needs pngquant: apt-get install -y pngquant" >&2; exit 1; }
cargo test --all-features --test browser -- a_person_logs_in
shot="$(cargo metadata --format-version 1 --no-deps |
    sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')/tmp/browser/03-notes-past-75-percent.png"
pngquant --nofs --speed 1 --strip --force --output docs/demo.png 40 "$shot"
ls -l docs/demo.png
size=$(stat -c %s docs/demo.png)
[ "$size" -le 153600 ] || { echo "docs/demo.png is $size bytes, over 150 KB" >&2; exit 1; }

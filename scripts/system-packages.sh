#!/usr/bin/env bash
# Debian packages the project needs beyond Python: chromium (the console's browser tests drive it via
# Playwright's executable_path — no browser is ever downloaded) and a CJK TrueType font for the PDFs
# (activities/printing.py embeds it), plus an emoji font so the console's icons show in the browser tests'
# screenshots. Installs what is missing when run as root with apt-get; otherwise
# says what to install and carries on (the browser tests then skip, the PDFs fall back to the CID font).
set -uo pipefail
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
test -f /usr/share/fonts/truetype/wqy/wqy-microhei.ttc || need+=(fonts-wqy-microhei)
test -f /usr/share/fonts/truetype/noto/NotoColorEmoji.ttf || need+=(fonts-noto-color-emoji)  # the console's icons in screenshots
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "==> apt-get install ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq "${need[@]}" >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq "${need[@]}"; } \
    || echo "could not install ${need[*]}; browser tests will skip, PDFs use the non-embedded CID font"
else
  echo "note: missing Debian packages: ${need[*]} (sudo apt-get install ${need[*]}): browser tests will skip," \
       "PDFs use the non-embedded CID font"
fi
exit 0

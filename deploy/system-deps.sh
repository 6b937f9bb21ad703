#!/usr/bin/env bash
# Installs the system packages Timbre needs, when we are root; otherwise prints the command.
#   run:  ffmpeg (probing and transcoding audio; torchcodec loads its libraries) and
#         libchromaprint-tools (fpcalc: the generation registry's fingerprints)
#   test: also espeak-ng and sox (speech test corpus), chromium (browser tests), docker-compose
#         (validates deploy/docker-compose.yml without an engine), nginx-light (the tests run the
#         deploy/nginx site on a port of their own) and shellcheck (the backup scripts)
set -euo pipefail
want=(ffmpeg libchromaprint-tools)
[ "${1:-run}" = test ] && want+=(espeak-ng sox chromium docker-compose nginx-light shellcheck)
missing=()
for pkg in "${want[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
  echo "Installing system packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  echo "Timbre needs these system packages: ${missing[*]}. Install them with:" >&2
  echo "  sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi

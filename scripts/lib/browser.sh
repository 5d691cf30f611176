# shellcheck shell=bash
# The headless browser the admin page's e2e tests drive (tests/e2e/admin.test.mjs, with playwright-core):
# Debian's `chromium` package. Nothing ever downloads a browser build from the network (playwright's own browser
# download is never used).
#
#   source scripts/lib/browser.sh
#   browser_ensure        # exports CHROMIUM_PATH, installing the package first when possible
#
# CHROMIUM_PATH may be set beforehand to use another Chromium (e.g. on a developer's machine); it defaults to
# /usr/bin/chromium. When that is missing: as root with apt-get, `apt-get update && apt-get install -y chromium`
# (plus fonts-wqy-microhei, 5 MB, so screenshots of the Chinese pages show characters, not boxes); otherwise print
# how to install it and fail.

browser_ensure() {
  export CHROMIUM_PATH="${CHROMIUM_PATH:-/usr/bin/chromium}"
  if [ -x "$CHROMIUM_PATH" ]; then
    return 0
  fi
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    printf '[browser] %s is missing: installing Debian'"'"'s chromium with apt-get\n' "$CHROMIUM_PATH" >&2
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 &&
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium fonts-wqy-microhei >&2 || {
      printf '[browser] ERROR: apt-get install chromium failed (see above)\n' >&2
      return 1
    }
    [ -x "$CHROMIUM_PATH" ] && return 0
  fi
  cat >&2 <<MSG
[browser] ERROR: no Chromium at $CHROMIUM_PATH; the admin page's browser tests need one.
  Debian/Ubuntu: sudo apt-get update && sudo apt-get install -y chromium
  Elsewhere: install Chromium and run with CHROMIUM_PATH=/path/to/chromium bash scripts/test
MSG
  return 1
}

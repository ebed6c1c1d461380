#!/usr/bin/env bash
# Runs the end-to-end stories (story.mjs in Chromium, window.mjs in the desktop app) with what a desktop session would give the
# console: a private D-Bus session bus with an unlocked GNOME Keyring (the refresh token goes
# there, never to disk), in a throwaway HOME. Needs the debug binaries (cargo build --workspace
# --bins, after npm run build: the app embeds the built UI; scripts/test builds them first).
set -euo pipefail
self="$(cd "$(dirname "$0")" && pwd)/$(basename "$0")"
cd "$(dirname "$self")/.."
if [ -z "${SWITCHBOARD_E2E_SESSION:-}" ]; then
  home=$(mktemp -d)
  trap 'rm -rf "$home"' EXIT
  export HOME="$home" XDG_DATA_HOME="$home/.local/share" SWITCHBOARD_E2E_SESSION=1
  dbus-run-session -- "$self" "$@"
  exit $?
fi
# A keyring unlocked with a throwaway password, like a desktop login does.
eval "$(printf 'e2e-keyring' | gnome-keyring-daemon --unlock --components=secrets)" >/dev/null
export GNOME_KEYRING_CONTROL
# The UI in Chromium (Playwright), then the real Tauri window under Xvfb (WebKitWebDriver).
case "${1:-all}" in
  browser) node e2e/story.mjs ;;
  window) xvfb-run -a -s "-screen 0 1280x800x24" node e2e/window.mjs ;;
  all) node e2e/story.mjs && xvfb-run -a -s "-screen 0 1280x800x24" node e2e/window.mjs ;;
  # The desktop figures for BENCHMARKS.md in the same session (bench-window.mjs says what they need).
  bench) shift; xvfb-run -a -s "-screen 0 1280x800x24" node e2e/bench-window.mjs "$@" ;;
  *) echo "usage: e2e/run.sh [browser|window|all|bench DATA_DIR|bench media]" >&2; exit 2 ;;
esac

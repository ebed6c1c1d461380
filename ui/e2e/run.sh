#!/usr/bin/env bash
# Runs the browser end-to-end story (story.mjs) with what a desktop session would give the
# console: a private D-Bus session bus with an unlocked GNOME Keyring (the refresh token goes
# there, never to disk), in a throwaway HOME. Needs the debug binaries (cargo build) and the
# built UI (npm run build).
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
node e2e/story.mjs

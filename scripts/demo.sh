#!/usr/bin/env bash
# The main job on the embedded default: the bundled four-emotion clip replayed at real time
# through capture, frontend, VAD, the default model and the embedded MQTT broker; one JSON event
# per utterance on stdout (logs on stderr); exits by itself after ~15 s.
set -euo pipefail
cd "$(dirname "$0")/.."
exec node bin/earshot.js run --demo "$@"

#!/usr/bin/env bash
# The main job on the embedded default: the bundled four-emotion clip replayed at real time
# through capture, frontend, VAD, the default model and the embedded MQTT broker; one JSON event
# per utterance on stdout (logs on stderr); exits by itself after ~15 s. It runs on a temporary
# state directory removed at exit (unless --state-dir is given): the configured one is untouched.
set -euo pipefail
cd "$(dirname "$0")/.."
exec node bin/earshot.js run --demo "$@"

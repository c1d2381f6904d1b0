#!/usr/bin/env bash
# Gradescope runs this once while it builds the autograder image: Python, a compiler for the
# project's Cython extension, and the project itself (shipped in the zip under source/).
set -euo pipefail
root="${AUTOGRADER_ROOT:-/autograder}"
apt-get update
apt-get install -y --no-install-recommends python3 python3-venv python3-dev build-essential
python3 -m venv "$root/venv"
"$root/venv/bin/pip" install --upgrade pip
"$root/venv/bin/pip" install "$root/source/source"

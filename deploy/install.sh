#!/bin/sh
# Build feedbot's wheel from the source folder SRC and install it, with the pinned versions of
# SRC/constraints.txt, into a new virtual environment VENV. The Dockerfile runs exactly this, and
# tests/test_deploy.py runs it too, so what the image installs is tested on every `make test`.
#
#   sh deploy/install.sh SRC VENV [WHEEL_DIR]        (PYTHON=python3 by default)
#
# The wheel is built from a copy of the sources in a temporary folder, so SRC gets no build/ or
# *.egg-info (root-owned ones, under sudo).
set -eu
src=$1
venv=$2
python=${PYTHON:-python3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
wheels=${3:-"$work/wheels"}

mkdir "$work/src"
for part in pyproject.toml README.md LICENSE constraints.txt bot adapters storage; do
    cp -R "$src/$part" "$work/src/"
done
"$python" -m pip wheel --no-deps --wheel-dir "$wheels" "$work/src"
"$python" -m venv "$venv"
"$venv/bin/python" -m pip install --constraint "$src/constraints.txt" "$wheels"/feedbot-*.whl
"$venv/bin/feedbot" --version

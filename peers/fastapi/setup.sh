#!/usr/bin/env bash
# Installs what peers/fastapi/server.py needs, from Debian's packages only (no pip, no venv):
# FastAPI (with its pydantic), uvicorn, uvloop, httptools and numpy, for Debian's /usr/bin/python3.
# Idempotent: when every package is already installed it changes nothing and skips apt-get update.
# Run as root, or as a user with sudo.
set -euo pipefail

PACKAGES=(python3-fastapi python3-uvicorn python3-uvloop python3-httptools python3-numpy)
# What npm run peer:fastapi runs (see peers/fastapi/README.md: Debian's packages go to
# /usr/lib/python3/dist-packages, which only Debian's interpreter reads).
PYTHON=${FASTAPI_PYTHON:-/usr/bin/python3}

if ! command -v apt-get >/dev/null || ! command -v dpkg-query >/dev/null; then
	echo "peers/fastapi/setup.sh: apt-get not found: this script installs Debian packages" \
		"(${PACKAGES[*]}); elsewhere install fastapi, uvicorn, uvloop, httptools and numpy" \
		"for a python3 and point FASTAPI_PYTHON at it" >&2
	exit 1
fi

missing=()
for package in "${PACKAGES[@]}"; do
	status=$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null || true)
	[[ $status == "install ok installed" ]] || missing+=("$package")
done

if ((${#missing[@]} == 0)); then
	echo "peers/fastapi/setup.sh: already installed: ${PACKAGES[*]}"
else
	sudo=()
	if [[ $(id -u) != 0 ]]; then
		if ! command -v sudo >/dev/null; then
			echo "peers/fastapi/setup.sh: installing ${missing[*]} needs root, and sudo is not available" >&2
			exit 1
		fi
		sudo=(sudo)
	fi
	echo "peers/fastapi/setup.sh: installing ${missing[*]}"
	"${sudo[@]}" apt-get update
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}"
fi

if ! "$PYTHON" -c 'import fastapi, uvicorn, uvloop, httptools, numpy' 2>/dev/null; then
	echo "peers/fastapi/setup.sh: the packages are installed, but $PYTHON cannot import them" \
		"(is it Debian's python3?)" >&2
	exit 1
fi
echo "peers/fastapi/setup.sh: ready; start the peer with: npm run peer:fastapi"

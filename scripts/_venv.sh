# shellcheck shell=bash
# Sourced by scripts/demo, scripts/test and scripts/check: make sure the repository's .venv exists
# and holds the project (editable) with the extras asked for, then put it first on PATH.
#
#   ensure_venv ""     # the project alone
#   ensure_venv dev    # with the test and lint tools
#
# The install is skipped when a stamp inside .venv says this pyproject.toml was already installed
# with those extras (a dev install also satisfies a plain one). Only python3 has to be present.

TWINSPACE_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

_venv_stamp_ok() {  # _venv_stamp_ok STAMPFILE HASH
  [ -f "$1" ] && [ "$(cat "$1")" = "$2" ]
}

ensure_venv() {
  local extras="${1:-}"
  local venv="$TWINSPACE_ROOT/.venv"
  local python="${PYTHON:-python3}"
  if [ ! -x "$venv/bin/python" ]; then
    if ! command -v "$python" >/dev/null 2>&1; then
      echo "error: $python not found; install Python 3.11 or newer" >&2
      return 1
    fi
    if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
      echo "error: twinspace needs Python 3.11 or newer; $python is $("$python" -V 2>&1)" >&2
      return 1
    fi
    echo "creating a virtual environment in $venv" >&2
    if ! "$python" -m venv "$venv"; then
      echo "error: '$python -m venv' failed (on Debian/Ubuntu: apt install python3-venv)" >&2
      rm -rf "$venv"
      return 1
    fi
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip >&2
  fi
  local hash
  hash="$("$venv/bin/python" -c 'import hashlib, sys; print(hashlib.sha256(open(sys.argv[1], "rb").read()).hexdigest())' "$TWINSPACE_ROOT/pyproject.toml")"
  local stamp="$venv/.twinspace-installed${extras:+-$extras}"
  if ! _venv_stamp_ok "$stamp" "$hash" && ! _venv_stamp_ok "$venv/.twinspace-installed-dev" "$hash"; then
    echo "installing twinspace${extras:+[$extras]} into $venv (first run; takes a minute)" >&2
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
      -e "$TWINSPACE_ROOT${extras:+[$extras]}" >&2
    echo "$hash" >"$stamp"
  fi
  export VIRTUAL_ENV="$venv"
  export PATH="$venv/bin:$PATH"
}

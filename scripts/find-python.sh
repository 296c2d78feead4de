#!/usr/bin/env bash
# Prints the path of a Python MAJOR.MINOR interpreter, or nothing when the machine has none:
# python3.13 on PATH first, then each pyenv-installed 3.13.x (newest first). A pyenv shim on
# PATH only runs when its version is selected, so a candidate counts only if it runs and is
# that version. `make deps` builds .venv with the result (and falls back to python3 without).
set -uo pipefail
want="${1:?usage: $0 MAJOR.MINOR (e.g. 3.13)}"

version_of() {
  "$1" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null
}

candidates=("python$want")
if command -v pyenv >/dev/null 2>&1; then
  root="$(pyenv root 2>/dev/null)"
  while read -r installed; do
    candidates+=("$root/versions/$installed/bin/python$want")
  done < <(pyenv versions --bare --skip-aliases 2>/dev/null | grep -E "^${want//./\\.}(\.[0-9]+)?$" | sort -t. -k3,3nr)
fi

for candidate in "${candidates[@]}"; do
  if [ "$(version_of "$candidate")" = "$want" ]; then
    # The interpreter itself, not a shim that depends on which version pyenv selects later.
    "$candidate" -c 'import sys; print(sys.executable)'
    exit 0
  fi
done
exit 0

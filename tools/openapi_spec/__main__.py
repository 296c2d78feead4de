"""`python -m openapi_spec` prints the document; `--write` updates docs/openapi.json; `--check` compares."""

from __future__ import annotations

import argparse
import sys

from openapi_spec.spec import REGENERATE_COMMAND, SPEC_PATH, build_spec, render


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m openapi_spec", description=__doc__)
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--write", action="store_true", help=f"write {SPEC_PATH.name} under docs/")
    action.add_argument("--check", action="store_true", help="exit 1 if docs/openapi.json is stale")
    arguments = parser.parse_args(argv)

    text = render(build_spec())
    if arguments.write:
        SPEC_PATH.parent.mkdir(parents=True, exist_ok=True)
        SPEC_PATH.write_text(text, encoding="utf-8")
        print(f"wrote {SPEC_PATH}", file=sys.stderr)
    elif arguments.check:
        current = SPEC_PATH.read_text(encoding="utf-8") if SPEC_PATH.exists() else ""
        if current != text:
            print(f"{SPEC_PATH} is stale; regenerate it with `{REGENERATE_COMMAND}`", file=sys.stderr)
            return 1
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Write every dashboard JSON and rule file for a stack: `python -m dashboards.render --stack dev --out build/signals`.

With --check, compare instead of writing, and fail when a file is missing, stale or not produced
by the code (for reviewing committed output in a pull request).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dashboards import build
from dashboards.config import from_stack
from stack.config import ConfigError, load_from_files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dashboards.render", description=__doc__.splitlines()[0])
    parser.add_argument("--stack", default="dev", help="stack whose Pulumi.<stack>.yaml settings to use (default dev)")
    parser.add_argument("--out", default="build/signals", type=Path, help="output folder (default build/signals)")
    parser.add_argument("--check", action="store_true", help="compare with --out instead of writing; exit 1 on any difference")
    args = parser.parse_args(argv)
    try:
        config = load_from_files(args.stack)
    except (ConfigError, FileNotFoundError) as error:
        print(error, file=sys.stderr)
        return 2
    files = build(from_stack(config)).files()
    if args.check:
        existing = {str(p.relative_to(args.out)) for p in args.out.rglob("*") if p.is_file()} if args.out.exists() else set()
        problems = [f"missing: {path}" for path in sorted(set(files) - existing)]
        problems += [f"not produced by the code: {path}" for path in sorted(existing - set(files))]
        problems += [f"stale: {path}" for path in sorted(set(files) & existing) if (args.out / path).read_text() != files[path]]
        for problem in problems:
            print(problem, file=sys.stderr)
        return 1 if problems else 0
    for path, content in files.items():
        target = args.out / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content)
    stale = [p for p in args.out.rglob("*") if p.is_file() and str(p.relative_to(args.out)) not in files]
    for path in stale:
        path.unlink()
    print(f"wrote {len(files)} files to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

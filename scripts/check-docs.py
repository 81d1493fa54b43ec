#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The user documentation stands alone (ctest check/docs).

1. Nothing a user reads points outside the repository: README.md, docs/*.md, examples/*/README.md, packaging/
   (units, example configs, man page sections) and the --help of the programs given with --program name nor cite
   design notes the user does not have (a shared/ directory, PROTOCOL.md, AGENT.md, DESIGN.md, "§" section marks).
2. Every agent configuration key that `slipway-agent --help` lists is in docs/agent-config.md, and every server
   setting that `slipway-server --help` lists is in docs/server.md.

Usage: check-docs.py [--root DIR] [--program PATH]...   (exit 1 and a list of findings when something is wrong)
"""
import argparse
import pathlib
import re
import subprocess
import sys

OUTSIDE = re.compile(r"\bshared/|PROTOCOL\.md|PROTOCOL §|AGENT\.md|AGENT §|DESIGN\.md|§")


def user_files(root):
    files = [root / "README.md"]
    for pattern in ("docs/*.md", "examples/*/README.md", "packaging/*.service", "packaging/*.example",
                    "packaging/man/*.h2m", "packaging/README.md"):
        files += sorted(root.glob(pattern))
    return [f for f in files if f.is_file()]


def help_text(program):
    r = subprocess.run([program, "--help"], capture_output=True, text=True, timeout=30)
    return r.stdout + r.stderr


def check_references(root, programs):
    found = []
    for f in user_files(root):
        for n, line in enumerate(f.read_text(encoding="utf-8").splitlines(), 1):
            if OUTSIDE.search(line):
                found.append(f"{f.relative_to(root)}:{n}: points outside the project: {line.strip()[:120]}")
    for p in programs:
        for line in help_text(p).splitlines():
            if OUTSIDE.search(line):
                found.append(f"{pathlib.Path(p).name} --help: points outside the project: {line.strip()[:120]}")
    return found


def check_keys(root, programs):
    found = []
    for p in programs:
        name = pathlib.Path(p).name
        text = help_text(p)
        if name == "slipway-agent":
            part = text.split("configuration keys", 1)[-1]
            keys = re.findall(r"^  ([a-z][a-z0-9_]+) ", part, re.M)
            doc = root / "docs" / "agent-config.md"
        elif name == "slipway-server":
            keys = re.findall(r"^  --([a-z][a-z0-9_]+) ", text, re.M)
            doc = root / "docs" / "server.md"
        else:
            continue
        if not keys:
            found.append(f"{name} --help lists no keys (format changed?)")
            continue
        documented = doc.read_text(encoding="utf-8") if doc.exists() else ""
        for k in keys:
            if f"`{k}`" not in documented and not re.search(rf"`[^`]*\b{k}\b[^`]*`", documented):
                found.append(f"{doc.relative_to(root)}: {name} key `{k}` is not documented")
    return found


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", default=str(pathlib.Path(__file__).resolve().parents[1]))
    ap.add_argument("--program", action="append", default=[])
    args = ap.parse_args()
    root = pathlib.Path(args.root)
    found = check_references(root, args.program) + check_keys(root, args.program)
    for line in found:
        print(line)
    if found:
        print(f"check-docs: {len(found)} problem(s)")
        return 1
    print(f"check-docs: ok ({len(user_files(root))} files, {len(args.program)} programs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

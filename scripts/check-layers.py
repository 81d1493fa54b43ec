#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""scripts/check-layers.py: the limits of docs/architecture.md, checked on src/ (run by ctest as check/layers).

Fails (exit 1) on any violation that is not listed in scripts/layers-allow.txt:
  include  FILE -> HEADER   a server folder includes a header of a layer it may not use:
                            engine/ only lib, proto and engine; store/ only lib, proto, engine and store;
                            the base layer (src/server itself, but main.c) only those and base;
                            http/ only those, base and http; ping/ only those, http and ping;
                            api/ never workers/, workers/ never api/, deploy/ neither of them
  lines    FILE N           a C file (.c or .h) of src/ longer than 1,000 lines
  function FILE:NAME N      a C function of src/ longer than 120 lines (signature line to closing brace)
The allow-list holds the known violations of the day the check was introduced; it may only shrink (a listed
violation that is gone is reported, so its line can be deleted).
Usage: scripts/check-layers.py [--allow FILE] [SRC_ROOT]   (defaults: scripts/layers-allow.txt, the repository's
src/)"""
import os
import re
import sys

MAX_FILE_LINES = 1000
MAX_FUNCTION_LINES = 120
HERE = os.path.dirname(os.path.abspath(__file__))
ARGS = sys.argv[1:]
ALLOW = os.path.join(HERE, "layers-allow.txt")
if ARGS[:1] == ["--allow"]:
    ALLOW, ARGS = os.path.abspath(ARGS[1]), ARGS[2:]
ROOT = os.path.abspath(ARGS[0]) if ARGS else os.path.join(os.path.dirname(HERE), "src")
SERVER = os.path.join(ROOT, "server")

# which layers a server folder may include (None: no rule beyond the pairs below)
MAY_INCLUDE = {
    "engine": {"engine", "lib", "proto"},
    "store": {"store", "engine", "lib", "proto"},
    "base": {"base", "store", "engine", "lib", "proto"},
    "http": {"http", "base", "store", "engine", "lib", "proto"},
    "ping": {"ping", "http", "base", "store", "engine", "lib", "proto"},
}
# folders that must never include each other's headers
NEVER = {("api", "workers"), ("workers", "api"), ("deploy", "api"), ("deploy", "workers")}


def rel(path):
    return os.path.relpath(path, os.path.dirname(ROOT))


def layer_of(path):
    """lib, proto, agent, cli, or the server folder (base for src/server itself; main for its main.c, which
    wires every layer together and belongs to none)"""
    parts = os.path.relpath(path, ROOT).split(os.sep)
    if parts[0] != "server":
        return parts[0]
    if parts[1:] == ["main.c"]:
        return "main"
    return parts[1] if len(parts) > 2 else "base"


def server_headers():
    """header name -> paths, over src/server, its folders, lib and proto (the server's include path)"""
    names = {}
    dirs = [os.path.join(ROOT, "lib"), os.path.join(ROOT, "proto")]
    for dirpath, _, _ in os.walk(SERVER):
        dirs.append(dirpath)
    for d in dirs:
        for f in os.listdir(d) if os.path.isdir(d) else []:
            if f.endswith(".h"):
                names.setdefault(f, []).append(os.path.join(d, f))
    return names


def resolve(src, name, names):
    """the header a quoted include of src names: by path, beside src, else by file name"""
    here = os.path.join(os.path.dirname(src), name)
    if os.path.exists(here):
        return os.path.normpath(here)
    for base in (SERVER, ROOT):
        p = os.path.join(base, name)
        if "/" in name and os.path.exists(p):
            return os.path.normpath(p)
    found = names.get(os.path.basename(name), [])
    return found[0] if len(found) == 1 else None


INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def include_violations(files):
    names = server_headers()
    out = []
    for f in files:
        if not f.startswith(SERVER + os.sep):
            continue
        mine = layer_of(f)
        with open(f, encoding="utf-8", errors="replace") as fh:
            text = fh.read()
        for name in INCLUDE.findall(text):
            h = resolve(f, name, names)
            if not h:
                continue
            theirs = layer_of(h)
            allowed = MAY_INCLUDE.get(mine)
            if (allowed is not None and theirs not in allowed) or (mine, theirs) in NEVER:
                out.append("include %s -> %s" % (rel(f), rel(h)))
    return out


def strip_c(text):
    """text with comments, string and character literals and preprocessor lines blanked (newlines kept)"""
    out = []
    i, n = 0, len(text)
    at_line_start = True
    while i < n:
        c = text[i]
        if at_line_start and c == "#":
            # a preprocessor line, with its backslash continuations
            while i < n and not (text[i] == "\n" and text[i - 1] != "\\"):
                out.append("\n" if text[i] == "\n" else " ")
                i += 1
            continue
        if c == "/" and text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
            continue
        if c == "/" and text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
            continue
        if c in "\"'":
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            out.append(c + re.sub(r"[^\n]", " ", text[i + 1:j]) + c)
            i = j + 1
            continue
        if c == "\n":
            at_line_start = True
        elif not c.isspace():
            at_line_start = False
        out.append(c)
        i += 1
    return "".join(out)


def header_name(text):
    """(name, offset) when text ends in `name(...)` (the parameter list matched backwards), else None"""
    i = len(text.rstrip()) - 1
    if i < 0 or text[i] != ")":
        return None
    depth = 0
    while i >= 0:
        depth += {")": 1, "(": -1}.get(text[i], 0)
        if depth == 0:
            break
        i -= 1
    m = re.search(r"([A-Za-z_]\w*)\s*$", text[:i])
    return (m.group(1), m.start(1)) if m and i > 0 else None


def functions(text):
    """(name, first line, last line) of every function definition: a top-level brace after `name(...)`"""
    s = strip_c(text)
    depth, start, out = 0, 0, []
    head = None
    for i, c in enumerate(s):
        if c == "{":
            if depth == 0:
                h = header_name(s[start:i])
                if h and "=" not in s[start:i]:
                    head = (h[0], s.count("\n", 0, start + h[1]) + 1)
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                if head:
                    out.append((head[0], head[1], s.count("\n", 0, i) + 1))
                head = None
                start = i + 1
        elif c == ";" and depth == 0:
            start = i + 1
    return out


def size_violations(files):
    out = []
    for f in files:
        with open(f, encoding="utf-8", errors="replace") as fh:
            text = fh.read()
        lines = text.count("\n")
        if lines > MAX_FILE_LINES:
            out.append("lines %s %d" % (rel(f), lines))
        if f.endswith(".c"):
            for name, a, b in functions(text):
                if b - a + 1 > MAX_FUNCTION_LINES:
                    out.append("function %s:%s %d" % (rel(f), name, b - a + 1))
    return out


def key(v):
    """a violation without its count (a listed long file or function may change length and stay listed)"""
    return " ".join(v.split()[:2]) if not v.startswith("include") else v


def main():
    files = []
    for dirpath, _, fs in os.walk(ROOT):
        files += [os.path.join(dirpath, f) for f in fs if f.endswith((".c", ".h"))]
    files.sort()
    found = include_violations(files) + size_violations(files)
    allowed = set()
    if os.path.exists(ALLOW):
        with open(ALLOW, encoding="utf-8") as fh:
            allowed = {key(l.strip()) for l in fh if l.strip() and not l.startswith("#")}
    new = [v for v in found if key(v) not in allowed]
    gone = sorted(allowed - {key(v) for v in found})
    for v in new:
        print("check-layers: %s" % v)
    for v in gone:
        print("check-layers: fixed, delete its line from the allow-list (%s): %s" % (ALLOW, v))
    if new:
        print("check-layers: %d new violation(s) (the limits: docs/architecture.md)" % len(new))
        return 1
    print("check-layers: ok (%d known violation(s) allowed)" % len(found))
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""check_readme_layout - README.md's "Source code layout" names every source
file once.

The source files are the .c and .h files of common/, cli/, api/ and worker/
and the scripts of scripts/. In the layout block (the fenced block under the
heading), a line that starts in column 0 with "DIR/" opens that directory;
each line below it indented by two spaces is a row: its names come first,
separated by commas, then two spaces or more and what they are. A name may be
a subdirectory ("ui/"). Deeper-indented lines continue the row above.

Fails, naming each file, when a source file has no row, when one is named
twice, or when a row names a file that does not exist.

    check_readme_layout.py [SOURCE_DIR]   (default: the tree holding this file)
"""
import os
import re
import sys

DIRS = {"common": (".c", ".h"), "cli": (".c", ".h"), "api": (".c", ".h"),
        "worker": (".c", ".h"), "scripts": (".sh",)}
HEADING = "## Source code layout"


def layout_block(readme):
    """The lines of the first fenced block after the heading."""
    lines = readme.split("\n")
    try:
        start = lines.index(HEADING)
    except ValueError:
        return None
    block, inside = [], False
    for line in lines[start + 1:]:
        if line.startswith("```"):
            if inside:
                return block
            inside = True
        elif inside:
            block.append(line)
        elif line.startswith("## "):
            break
    return None


def rows(block):
    """(directory, name, line number in the block) for each name of a row."""
    current = None
    for n, line in enumerate(block, 1):
        top = re.match(r"^(\S+/)(\s|$)", line)
        if top:
            current = top.group(1).rstrip("/")
            continue
        if line.startswith("  ") and not line.startswith("   ") and current:
            names = re.split(r"\s{2,}", line.strip(), maxsplit=1)[0]
            for name in names.split(","):
                name = name.strip()
                if name:
                    yield current, name, n
        elif not line.startswith("   "):
            current = None


def main():
    src = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "..")
    with open(os.path.join(src, "README.md"), encoding="utf-8") as f:
        block = layout_block(f.read())
    if block is None:
        print(f'README.md: no fenced block under "{HEADING}"')
        return 1

    named = {}
    problems = []
    for d, name, n in rows(block):
        path = f"{d}/{name}"
        if path in named:
            problems.append(f'README.md, "{HEADING}": {path} has two rows '
                            f"(lines {named[path]} and {n} of the block): keep one")
            continue
        named[path] = n
        if not os.path.exists(os.path.join(src, d, name.rstrip("/"))):
            problems.append(f'README.md, "{HEADING}": the row of {path} names a '
                            "file that does not exist: remove or rename it")

    for d, exts in sorted(DIRS.items()):
        for name in sorted(os.listdir(os.path.join(src, d))):
            if name.endswith(exts) and f"{d}/{name}" not in named:
                problems.append(f'README.md, "{HEADING}": {d}/{name} has no row: '
                                f"add one under {d}/ (the name, two spaces, what it is)")

    for p in problems:
        print(p)
    if problems:
        return 1
    print(f"README.md names each of {len(named)} source files once")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The fenced code blocks of a Markdown file, each with the docs-test marker
that precedes it (the nearest line before it that is not blank):

    <!-- docs-test: run -->                 run it, it must exit 0
    <!-- docs-test: compile -->             (C) compile it against the build
    <!-- docs-test: illustrative: WHY -->   shown, not run

tests/docs/docs_test.sh runs the READMEs' shell and C blocks with it, and
tests/python/test_readme.py their Python ones.
"""
import re

MARKER = re.compile(r"^<!-- docs-test: (run|compile|illustrative: .+) -->$")


def blocks(path):
    """A list of (lang, body, line, marker) for each fenced block of the file:
    lang as written after the opening fence ('' if none), the body with a
    final newline, the 1-based line of the opening fence, and the marker's
    verdict ('run', 'compile', 'illustrative: WHY') or None."""
    lines = open(path).read().split("\n")
    out = []
    i = 0
    while i < len(lines):
        m = re.match(r"^```(\w*)\s*$", lines[i])
        if not m:
            i += 1
            continue
        j = i + 1
        while j < len(lines) and lines[j].strip() != "```":
            j += 1
        k = i - 1
        while k >= 0 and lines[k].strip() == "":
            k -= 1
        marker = MARKER.match(lines[k].strip()) if k >= 0 else None
        out.append((m.group(1), "\n".join(lines[i + 1:j]) + "\n", i + 1,
                    marker.group(1) if marker else None))
        i = j + 1
    return out

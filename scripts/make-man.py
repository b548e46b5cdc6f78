#!/usr/bin/env python3
"""Turns swift-argument-parser's generated mdoc into pathtrace.1.

The generator copies each command's discussion text verbatim: its blank lines make mdoc warn
("Empty input line") and its indented example lines would be filled into one paragraph. Here blank
lines become .Pp, indented runs become literal displays, and the generic `.Ex -std` exit status is
replaced by the exit codes the help lists under "Exit codes:" (from ExitStatus, moved out of the
description) and docs/pathtrace.1.extra (examples, the JSON summary, files, see also).

The generator also drops every non-ASCII character (the help names the flow diagram's symbols), so
it reads the help through this script (PATHTRACE_BIN=... make-man.py --experimental-dump-help), which
spells such characters as @U+XXXX@; the second pass turns them into groff's \\[uXXXX].

usage: PATHTRACE_BIN=pathtrace generate-manual make-man.py -o - | make-man.py pathtrace.1.extra > pathtrace.1
"""
import json
import os
import re
import subprocess
import sys


def dump_help():
    dump = subprocess.run(
        [os.environ["PATHTRACE_BIN"], "--experimental-dump-help"], check=True, capture_output=True, text=True
    ).stdout

    def spell(value):
        if isinstance(value, str):
            return "".join(c if ord(c) < 128 else "@U+%04X@" % ord(c) for c in value)
        if isinstance(value, list):
            return [spell(v) for v in value]
        if isinstance(value, dict):
            return {k: spell(v) for k, v in value.items()}
        return value

    sys.stdout.write(json.dumps(spell(json.loads(dump))))


def code_points(line):
    return re.sub(r"@U\+([0-9A-F]{4,6})@", r"\\[u\1]", line)


def literal_line(text):
    # Without its indent, a line could start with a dot or apostrophe and be read as a request.
    if text.startswith((".", "'")):
        return "\\&" + text
    return text


def exit_status(codes):
    """The EXIT STATUS section: one tag per `N  meaning` line of the help."""
    out = ['.Sh "EXIT STATUS"', ".Bl -tag -width 3n"]
    for code, meaning in codes:
        out += [".It " + code, code_points(literal_line(meaning))]
    return out + [".El"]


def convert(lines, extra):
    out = []
    literal = False
    skip_ex = False
    codes = []
    in_codes = False

    def paragraph():
        if out and out[-1] != ".Pp":
            out.append(".Pp")

    for raw in lines:
        line = raw.rstrip("\n")
        if skip_ex:
            skip_ex = False
            if line.startswith(".Ex"):
                continue
        indented = line.startswith("  ") and line.strip()
        if line.strip() == "Exit codes:":
            in_codes = True
            continue
        if in_codes:
            match = re.match(r"  (\d+)  (.*)", line)
            if match:
                codes.append(match.groups())
                continue
            in_codes = False
        if literal and not indented:
            out.append(".Ed")
            literal = False
            # A line that follows an example list directly starts a new paragraph.
            if line.strip() and not line.startswith("."):
                paragraph()
        if line.startswith(".Sh") and "EXIT STATUS" in line:
            out.extend(exit_status(codes) + extra)
            skip_ex = True
        elif line.startswith("."):
            out.append(code_points(line))
        elif not line.strip():
            paragraph()
        elif indented:
            if not literal:
                # Compact: an example list follows the line that introduces it without a gap.
                out.append(".Bd -literal -offset indent -compact")
                literal = True
            out.append(code_points(literal_line(line[2:])))
        else:
            out.append(code_points(line))
    if literal:
        out.append(".Ed")
    return out


def main():
    if sys.argv[1:] == ["--experimental-dump-help"]:
        return dump_help()
    if len(sys.argv) != 2:
        sys.exit(__doc__.strip().splitlines()[-1])
    with open(sys.argv[1], encoding="utf-8") as f:
        extra = [line.rstrip("\n") for line in f]
    sys.stdout.write("\n".join(convert(sys.stdin, extra)) + "\n")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""compile_commands.py CC 'FLAGS' SOURCE... - write compile_commands.json for
clangd, describing how the Makefile compiles each kernel source file."""
import json
import os
import sys


def main(argv):
    cc, flags, sources = argv[0], argv[1], argv[2:]
    root = os.getcwd()
    entries = [{
        "directory": root,
        "file": src,
        "command": "%s %s -c %s -o /dev/null" % (cc, flags, src),
    } for src in sources]
    json.dump(entries, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main(sys.argv[1:])

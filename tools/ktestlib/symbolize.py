"""symbolize.py - turn panic backtrace addresses into function and file:line.

The kernel prints `# bt: #<i> 0x<addr> <func>+0x<off>`; it knows symbol
names but not source lines.  addr2line knows both, from the DWARF in
build/kernel.elf.  All addresses of a run go to one addr2line call:

    addr2line -a -f -i -e kernel.elf 0xA 0xB ...

`-a` prints each address before its answer, which is how the output is split
back into one group per address: with `-i` an address inside inlined code
answers with several (function, file:line) pairs, innermost first.
"""

import os
import subprocess

UNKNOWN = ("??", "??:0")


def lookup_address(frame):
    """The address to look up for a frame.

    The kernel walks frame pointers from inside panic(), so every frame,
    #0 included, holds a return address.  That points just past the call
    instruction and may already belong to the next source line (or, after
    a call to a noreturn function such as panic, to the next function).
    One byte back lands inside the call itself.
    """
    return frame.address - 1 if frame.address else frame.address


def symbolize(elf, addresses, addr2line="addr2line"):
    """Map each address to a list of (function, file:line) pairs.

    Returns {} if addr2line is missing or fails; callers then print the
    backtrace as the kernel gave it.  Does not block beyond addr2line.
    """
    wanted = sorted(set(addresses))
    if not wanted:
        return {}
    command = [addr2line, "-a", "-f", "-i", "-e", elf]
    command += ["0x%x" % address for address in wanted]
    try:
        output = subprocess.run(command, capture_output=True, text=True,
                                timeout=60, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return {}
    return _split_answers(output.splitlines())


def _split_answers(lines):
    answers, current = {}, None
    pending_function = None
    for line in lines:
        if line.startswith("0x") and pending_function is None:
            current = int(line, 16)
            answers[current] = []
        elif pending_function is None:
            pending_function = line.strip()
        else:
            if current is not None:
                answers[current].append((pending_function, line.strip()))
            pending_function = None
    return answers


def has_line(location):
    """Is `file:line` a real location rather than addr2line's '??:0'?"""
    path, _, line = location.rpartition(":")
    line = line.split(" ")[0]
    return bool(path) and path != "??" and line.isdigit() and line != "0"


def describe_panic(panic, answers):
    """Backtrace lines for a report, each with file:line when known."""
    lines = []
    for frame in panic.frames:
        where = answers.get(lookup_address(frame), [])
        text = "#%d 0x%016x %s" % (frame.index, frame.address,
                                   _kernel_name(frame))
        located = [(function, _relative(location))
                   for function, location in where if has_line(location)]
        if not located:
            lines.append(text)
            continue
        function, location = located[0]
        if function != frame.function:
            location += " (in %s)" % function
        lines.append("%s  %s" % (text, location))
        for function, location in located[1:]:
            lines.append("      inlined into %s at %s" % (function,
                                                          location))
    return lines


def _relative(location):
    """Source paths relative to the current directory when under it."""
    prefix = os.getcwd().rstrip(os.sep) + os.sep
    return location[len(prefix):] if location.startswith(prefix) else location


def _kernel_name(frame):
    if frame.offset is None:
        return frame.function
    return "%s+0x%x" % (frame.function, frame.offset)

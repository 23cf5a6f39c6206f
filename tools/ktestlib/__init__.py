"""ktestlib - the pieces of the Damselfly test runner (tools/ktest).

    ktap       strict KTAP v1 parser: lines in, a tree of results and a list of
               format errors out
    outcome    judges one run (a host binary or a kernel boot): turns the parsed
               tree plus the exit status into counted cases and harness errors
    symbolize  turns panic backtrace addresses into file:line with addr2line
    qemu       builds the boot ISO, picks KVM or TCG, boots with a timeout
    hostrun    runs host test binaries and Python unittest files
    groups     reads tests/ktest-groups
    selftest   boots the deliberately broken suites and checks the verdicts
    report     the per-suite table, the failure details and the last line
"""

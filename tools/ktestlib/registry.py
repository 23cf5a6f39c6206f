"""registry.py - read the kernel's test registry out of its ELF file.

Every KTEST() puts one `struct ktest` into the kernel's .ktest section
(include/kern/ktest.h); the linker script brackets the array with the
symbols __start_ktest and __stop_ktest.  On x86-64 the struct is

    offset  0  const char *suite
    offset  8  const char *name
    offset 16  void (*fn)(void)
    offset 24  unsigned flags       (KTEST_F_MANUAL = 0x1), then 4 bytes pad

so 32 bytes per test, and the two strings live elsewhere in the image
(.rodata).  Reading them needs no boot: find the two symbols in .symtab,
then turn each virtual address into a file offset through the section
that holds it.  tools/ktest --update-list writes tests/ktest-list from
this.

Only what this file needs of ELF64 (little-endian) is read: the file
header, the section headers, one symbol table and NUL-terminated strings.
"""

import struct
from dataclasses import dataclass

ENTRY_SIZE = 32
KTEST_F_MANUAL = 0x1

_EHDR = struct.Struct("<16sHHIQQQIHHHHHH")
_SHDR = struct.Struct("<IIQQQQIIQQ")
_SYM = struct.Struct("<IBBHQQ")
_ENTRY = struct.Struct("<QQQI")
SHT_SYMTAB, SHT_NOBITS, SHF_ALLOC = 2, 8, 0x2


class RegistryError(Exception):
    """The file is not a kernel whose registry can be read; says why."""


@dataclass(frozen=True)
class Test:
    suite: str
    name: str
    manual: bool    # KTEST_MANUAL(): runs only when named, never by "all"

    @property
    def path(self):
        return self.suite + "." + self.name


def read_tests(path):
    """The tests registered in the kernel ELF at `path`, in section order.

    Raises RegistryError (or OSError) when they cannot be read.
    """
    with open(path, "rb") as image:
        elf = _Elf(image.read(), path)
    start = elf.symbol("__start_ktest")
    stop = elf.symbol("__stop_ktest")
    if stop < start or (stop - start) % ENTRY_SIZE:
        raise RegistryError("%s: .ktest is %d bytes, not a whole number of "
                            "%d-byte struct ktest (did the struct change? "
                            "then update tools/ktestlib/registry.py)"
                            % (path, stop - start, ENTRY_SIZE))
    tests = []
    for address in range(start, stop, ENTRY_SIZE):
        suite, name, _, flags = _ENTRY.unpack(elf.read(address,
                                                       _ENTRY.size))
        tests.append(Test(elf.string(suite), elf.string(name),
                          bool(flags & KTEST_F_MANUAL)))
    return tests


class _Elf:
    """An ELF64 image in memory: sections, symbols, reads by address."""

    def __init__(self, data, path):
        self.data, self.path = data, path
        if data[:5] != b"\x7fELF\x02" or data[5] != 1:
            raise RegistryError("%s is not a little-endian ELF64 file" % path)
        header = _EHDR.unpack_from(data)
        shoff, shentsize, shnum = header[6], header[11], header[12]
        self.sections = [_SHDR.unpack_from(data, shoff + i * shentsize)
                         for i in range(shnum)]

    def symbol(self, wanted):
        """The value of the symbol named `wanted`."""
        for section in self.sections:
            if section[1] == SHT_SYMTAB:
                value = self._find(section, wanted)
                if value is not None:
                    return value
        raise RegistryError("%s has no symbol %s (is it the kernel, and not "
                            "stripped?)" % (self.path, wanted))

    def _find(self, symtab, wanted):
        strtab = self.sections[symtab[6]]
        offset, size = symtab[4], symtab[5]
        for at in range(offset, offset + size, _SYM.size):
            name, _, _, _, value, _ = _SYM.unpack_from(self.data, at)
            if self._cstring(strtab[4] + name) == wanted:
                return value
        return None

    def offset(self, address):
        """The file offset of a virtual address in a loaded section."""
        for _, kind, flags, addr, offset, size, *_ in self.sections:
            if (flags & SHF_ALLOC and kind != SHT_NOBITS and
                    addr <= address < addr + size):
                return offset + address - addr
        raise RegistryError("%s: address %#x is in no section of the file"
                            % (self.path, address))

    def read(self, address, size):
        start = self.offset(address)
        return self.data[start:start + size]

    def string(self, address):
        return self._cstring(self.offset(address))

    def _cstring(self, offset):
        end = self.data.index(b"\0", offset)
        return self.data[offset:end].decode("utf-8", "replace")

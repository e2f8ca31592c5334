"""The item budget's memory reading (agent.daemon.budget.resident_bytes)."""

from __future__ import annotations

import os

from agent.daemon.budget import resident_bytes


def test_resident_memory_is_the_readers_own_also_in_a_forked_child() -> None:
    assert resident_bytes() > 0  # /proc/self/statm opened, and kept, by this process
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: 200 MB written to, so resident
        hoard = bytearray(b"x") * (200 << 20)
        os.write(write, str(resident_bytes()).encode())
        del hoard
        os._exit(0)
    os.waitpid(pid, 0)
    child = int(os.read(read, 64))
    os.close(read)
    os.close(write)
    assert child - resident_bytes() > 150e6  # the parent's kept file would tell the parent's memory

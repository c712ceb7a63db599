"""``metadata.uid`` and the timestamps the server sets (fakekube/_registry/objects.py): uids are
version-4 UUIDs drawn in batches from the OS CSPRNG (never repeated, also across a fork), and
``now()`` is RFC 3339 UTC to the second however often it is asked within a second."""

from __future__ import annotations

import datetime as dt
import os
import re
import uuid

from fakekube._registry import objects


def test_uids_are_distinct_version_4_uuids_across_batches() -> None:
    uids = [objects.new_uid() for _ in range(3 * objects._UID_BATCH + 7)]
    assert len(set(uids)) == len(uids)
    for u in uids:
        parsed = uuid.UUID(u)
        assert str(parsed) == u  # canonical lower-case 8-4-4-4-12 form
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122


def test_a_forked_child_draws_its_own_uids() -> None:
    objects.new_uid()  # the parent's pool is filled
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child only writes and leaves
        os.write(write, objects.new_uid().encode())
        os._exit(0)
    os.close(write)
    child = os.read(read, 64).decode()
    os.close(read)
    os.waitpid(pid, 0)
    assert child != objects.new_uid()
    assert child not in objects._uid_pool


def test_now_is_rfc3339_utc_seconds() -> None:
    before = dt.datetime.now(dt.UTC).replace(microsecond=0)
    stamps = [objects.now() for _ in range(1000)]
    after = dt.datetime.now(dt.UTC)
    for s in stamps:
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", s)
        t = dt.datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
        assert before <= t <= after
    assert stamps == sorted(stamps)

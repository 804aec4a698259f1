"""ranges.Mirror: the work tree copy `git hf clone` makes of a big object while its ranges arrive."""

from __future__ import annotations

import hashlib
import os
import random
from pathlib import Path

from git_hf_agent.agent.ranges import InOrderHasher, Mirror, plan


def run(tmp_path, data, mirror, range_size=4096, seed=0):
    spans = plan(len(data), range_size)
    fd = os.open(tmp_path / "obj.download", os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
    os.ftruncate(fd, len(data))
    hasher = InOrderHasher(fd, spans, after=lambda span: mirror.copy(fd, span))
    order = list(spans)
    random.Random(seed).shuffle(order)   # ranges land in any order
    for span in order:
        os.pwrite(fd, data[span.start:span.end], span.start)
        hasher.finished(span.index)
    digest = hasher.hexdigest()
    hasher.stop()
    os.close(fd)
    return digest


def test_the_copy_is_the_object_whatever_order_the_ranges_land_in(tmp_path):
    data = os.urandom(10 * 4096 + 123)
    mirror = Mirror(tmp_path / "copy", len(data))
    assert run(tmp_path, data, mirror) == hashlib.sha256(data).hexdigest()
    mirror.close()
    assert mirror.complete() and (tmp_path / "copy").read_bytes() == data


def test_a_refetch_from_zero_starts_the_copy_over(tmp_path):
    bad, good = os.urandom(5 * 4096), os.urandom(5 * 4096)
    mirror = Mirror(tmp_path / "copy", len(good))
    run(tmp_path, bad, mirror, seed=1)            # digest mismatch: the download discards and fetches again,
    mirror.reset()                                # telling the copy so (download._Download._forget_mirror)
    run(tmp_path, good, mirror, seed=2)
    mirror.close()
    assert mirror.complete() and (tmp_path / "copy").read_bytes() == good


def test_a_copy_that_fails_is_reported_incomplete_and_the_download_goes_on(tmp_path):
    data = os.urandom(6 * 4096)
    mirror = Mirror(Path("/dev/full"), len(data))   # not a regular file: the kernel refuses the copy
    assert run(tmp_path, data, mirror) == hashlib.sha256(data).hexdigest()
    mirror.close()
    assert not mirror.complete() and isinstance(mirror.error, OSError)

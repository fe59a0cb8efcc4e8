"""NON_INTERLEAVE frames: one block per channel, turned into interleaved samples."""

import numpy as np
import pytest

from spatius_avatar_python.audio import AudioFormatError, planar_to_interleaved


def test_planar_stereo_becomes_interleaved():
    left = np.array([1, 2, 3], dtype=np.int16)
    right = np.array([-1, -2, -3], dtype=np.int16)
    out = np.frombuffer(planar_to_interleaved(left.tobytes() + right.tobytes(), 2), dtype=np.int16)
    assert out.tolist() == [1, -1, 2, -2, 3, -3]


def test_planar_mono_is_unchanged():
    pcm = np.arange(5, dtype=np.int16).tobytes()
    assert planar_to_interleaved(pcm, 1) == pcm


@pytest.mark.parametrize("size", [1, 2, 6, 10])
def test_planar_blocks_must_be_whole(size):
    with pytest.raises(AudioFormatError) as info:
        planar_to_interleaved(b"\x00" * size, 4)
    assert info.value.reason == "planar_layout"

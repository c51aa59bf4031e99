"""Music bed synthesis and parameter helpers."""

from __future__ import annotations

import numpy as np
import pytest

from reels_core.domain import MOODS, MUSIC_STYLES
from render_service.render import RenderParams, params_for
from render_service.render.music import SAMPLE_RATE, synthesize


def test_music_is_deterministic_exact_length_and_fades_out():
    a = synthesize("calm", "piano", 5.0, seed=3)
    b = synthesize("calm", "piano", 5.0, seed=3)
    assert a.shape == (5 * SAMPLE_RATE, 2) and a.dtype == np.int16
    assert np.array_equal(a, b)
    loud = np.abs(a[SAMPLE_RATE : 2 * SAMPLE_RATE].astype(float)).mean()
    assert loud > 500
    tail = np.abs(a[-SAMPLE_RATE // 20 :].astype(float)).mean()
    assert tail < loud / 20


def test_every_mood_and_style_differs():
    beds = {(m, s): synthesize(m, s, 3.0, seed=0) for m in MOODS[:2] for s in MUSIC_STYLES}
    sigs = {k: v[: SAMPLE_RATE * 2].astype(np.int64).sum() for k, v in beds.items()}
    assert len(set(sigs.values())) == len(sigs)
    assert not np.array_equal(synthesize("calm", "piano", 2.0, 0), synthesize("calm", "piano", 2.0, 1))


def test_unknown_mood_or_style_still_gives_music():
    assert np.abs(synthesize("weird", "kazoo", 2.0, 0)).max() > 1000


def test_params_for():
    assert (params_for("720p", "16:9").width, params_for("720p", "16:9").height) == (1280, 720)
    p = params_for("1080p", "9:16", fps=24)
    assert (p.width, p.height, p.fps) == (1080, 1920, 24)
    with pytest.raises(ValueError):
        params_for("4k", "16:9")
    with pytest.raises(ValueError):
        params_for("720p", "4:3")
    with pytest.raises(ValueError):
        RenderParams(width=321, height=180)

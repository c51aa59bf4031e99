"""service_kit.serving.tune_malloc_for_chunks: applied on glibc, left alone when the
operator set glibc's own knobs (its effect is measured in scripts/bench_stream.py)."""

from __future__ import annotations

import platform

import pytest

from service_kit.serving import tune_malloc_for_chunks


@pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="glibc only")
def test_tunes_glibc_for_the_chunk_size(monkeypatch):
    monkeypatch.delenv("MALLOC_TRIM_THRESHOLD_", raising=False)
    monkeypatch.delenv("MALLOC_MMAP_THRESHOLD_", raising=False)
    assert tune_malloc_for_chunks(512 * 1024) is True
    assert tune_malloc_for_chunks(4096 * 1024) is True  # the largest REEL_STREAM_CHUNK_KIB


@pytest.mark.parametrize("name", ["MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_"])
def test_an_operator_setting_wins(monkeypatch, name):
    monkeypatch.setenv(name, "131072")
    assert tune_malloc_for_chunks(512 * 1024) is False

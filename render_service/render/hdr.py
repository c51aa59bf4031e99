"""HDR (PQ / HLG, BT.2020) video frames tone-mapped to SDR BT.709 limited-range yuv420p.

Phones record HDR as 10-bit BT.2020 with the PQ (smpte2084) or HLG (arib-std-b67)
transfer. Shown as if it were BT.709 it comes out grey-washed (the wider primaries
read as dull colours) and, cut at SDR white, with clipped highlights.

Why numpy and not a filter: the ffmpeg inside PyAV has no ``zscale``; its
``tonemap`` needs linear float RGB it cannot make; and FFmpeg 8's swscale colour
management (``scale=out_transfer=bt709:out_primaries=bt709``) does convert HLG/PQ,
but it clips everything above HDR reference white (203 nits) and cost 222 ms a
frame for 1080p -> 720p here, against 16 ms for the plain (legacy) scale.

How: the frame is first scaled by swscale at 10 bits to the size it is shown at;
then the colour work is done where the colour is (4:2:0 chroma resolution), through
a table computed once per transfer with this float pipeline:

- per chroma sample (the 2x2 luma block's mean and its Cb/Cr): BT.2020 Y'CbCr ->
  R'G'B' -> linear light (PQ EOTF, or HLG inverse OETF plus its OOTF for a
  1000-nit display) in units of HDR reference white (203 nits = SDR white, BT.2408);
- tone curve on max(R, G, B), so hue and saturation are kept: the identity up to
  ``KNEE`` and a Reinhard-style shoulder that brings the signal's peak to SDR white
  without a hard clip;
- BT.2020 -> BT.709 primaries; colours outside BT.709 are desaturated towards their
  own luminance (not clipped per channel, which shifts hue);
- BT.709 R'G'B' (inverse BT.1886, gamma 2.4) -> limited-range Y'CbCr, 8 bits;
- luma keeps its full resolution: each pixel goes through the grey tone curve (a
  1024-entry table) and the block's colour correction is added to it.

Measured (``scripts/bench_phone_video.py``, 1080p HEVC 10-bit HLG shown at 720p, on
a shared 2-core machine, so read the ratios): the plain 8-bit scale 5.5-7.4 ms a
frame, the 10-bit scale plus tone map 8.3-12.7 ms (1.5-1.7x; the tone map itself
5.7-8.7 ms), decoding the frame ~18 ms either way. The same pipeline in float32 per
block, without the table, cost 4-5x the plain scale in the same conditions.
On the test charts (``tests/render/test_phone_video.py``) SDR colours sent through
HLG or PQ come back within 5 levels on average; greys exactly; highlights of 203,
400, 700 nits keep distinct levels (228, 244, 252 of 255).
"""

from __future__ import annotations

import functools

import numpy as np

REF_WHITE_NITS = 203.0  # BT.2408: HDR reference (diffuse) white, shown as SDR white
HLG_PEAK_NITS = 1000.0  # the HLG reference display (system gamma 1.2)
PQ_PEAK_NITS = 1000.0  # assumed peak of phone PQ clips when the file says nothing
KNEE = 0.5  # in units of reference white (~100 nits): below it, light is kept as it is

TRC_PQ = 16  # AVCOL_TRC_SMPTE2084
TRC_HLG = 18  # AVCOL_TRC_ARIB_STD_B67
PRI_BT2020 = 9  # AVCOL_PRI_BT2020
SPC_BT2020_NCL = 9  # AVCOL_SPC_BT2020_NCL

_LUT = 4096
_CHROMA_BINS = 257  # Cb and Cr every 4 codes, 0..1024
_M2020_TO_709 = np.array(
    [[1.6605, -0.5876, -0.0728], [-0.1246, 1.1329, -0.0083], [-0.0182, -0.1006, 1.1187]], dtype=np.float32
)
_HLG_A, _HLG_B, _HLG_C = 0.17883277, 0.28466892, 0.55991073


@functools.lru_cache(maxsize=4)
def mapper_for(color_trc: int) -> HdrToneMapper:
    """One mapper per transfer for the whole process: its table is built once."""
    return HdrToneMapper(color_trc)


def needs_tone_mapping(color_trc: int, color_primaries: int) -> bool:
    """A frame whose transfer is PQ or HLG, or whose primaries are BT.2020."""
    return color_trc in (TRC_PQ, TRC_HLG) or color_primaries == PRI_BT2020


def pq_eotf(signal: np.ndarray) -> np.ndarray:
    """PQ signal (0-1) -> nits."""
    m1, m2 = 2610 / 16384, 2523 / 4096 * 128
    c1, c2, c3 = 3424 / 4096, 2413 / 4096 * 32, 2392 / 4096 * 32
    p = np.power(np.clip(signal, 0, 1), 1 / m2)
    return 10000.0 * np.power(np.maximum(p - c1, 0) / (c2 - c3 * p), 1 / m1)


def hlg_inverse_oetf(signal: np.ndarray) -> np.ndarray:
    """HLG signal (0-1) -> scene light (0-1)."""
    s = np.clip(signal, 0, 1)
    return np.where(s <= 0.5, s * s / 3, (np.exp((s - _HLG_C) / _HLG_A) + _HLG_B) / 12)


def tone_curve(x: np.ndarray, peak: float) -> np.ndarray:
    """Light in units of reference white -> SDR light (0-1): identity below KNEE,
    then a shoulder whose slope starts at 1 and which reaches 1.0 at ``peak``."""
    x = np.asarray(x, dtype=np.float64)
    if peak <= 1.0:
        return np.minimum(x, 1.0)
    d_max, t = peak - KNEE, 1.0 - KNEE
    s = t * d_max / (d_max - t)  # d / (1 + d / s) maps d_max to t
    d = np.maximum(x - KNEE, 0)
    return np.where(x <= KNEE, x, KNEE + d / (1 + d / s))


class HdrToneMapper:
    """Tone-maps 10-bit BT.2020 yuv420p planes (limited range) for one transfer."""

    def __init__(self, color_trc: int):
        self.trc = color_trc
        if color_trc == TRC_PQ:
            self.peak = PQ_PEAK_NITS / REF_WHITE_NITS
        elif color_trc == TRC_HLG:
            self.peak = HLG_PEAK_NITS / REF_WHITE_NITS
        else:  # BT.2020 SDR: gamut only
            self.peak = 1.0
        grid = np.arange(_LUT, dtype=np.float64) / (_LUT - 1)
        # signal (0-1, per channel) -> linear light (HLG: scene light; others: / ref white)
        if color_trc == TRC_PQ:
            lin = pq_eotf(grid) / REF_WHITE_NITS
        elif color_trc == TRC_HLG:
            lin = hlg_inverse_oetf(grid)
        else:
            lin = grid**2.4
        self._to_linear = lin.astype(np.float32)
        # HLG OOTF gain for scene luminance Ys (table indexed by sqrt(Ys)): Lw * Ys^0.2 / ref white
        self._ootf = (HLG_PEAK_NITS / REF_WHITE_NITS * np.power(grid**2, 0.2)).astype(np.float32)
        # tone-curve gain for max(R,G,B) = m (table indexed by sqrt(m / top))
        self._top = max(self.peak, 1.0) * 4.0
        m = grid**2 * self._top
        with np.errstate(divide="ignore", invalid="ignore"):
            gain = np.where(m > 0, tone_curve(m, self.peak) / m, 1.0)
        self._tm_gain = gain.astype(np.float32)
        # SDR linear (0-1, table indexed by sqrt) -> BT.709 signal
        self._to_signal = np.power(grid**2, 1 / 2.4).astype(np.float32)
        # grey: 10-bit luma code -> 8-bit luma (float), the per-pixel part
        codes = np.arange(1024, dtype=np.float64)
        grey = np.clip((codes - 64) / 876, 0, 1)
        rgb = np.repeat(grey[:, None], 3, axis=1).astype(np.float32)
        self._grey_luma = self._rgb_signal_to_luma(rgb).astype(np.float32)
        self._grey_i16 = np.rint(self._grey_luma).astype(np.int16)
        self._lut3: np.ndarray | None = None

    # -- the colour pipeline on (n, 3) float32 signal triplets -------------------------

    def _linear_sdr(self, r: np.ndarray, g: np.ndarray, b: np.ndarray):
        """BT.2020 R'G'B' signals -> BT.709 linear SDR light (0-1), each an array."""
        n = _LUT - 1
        lut = self._to_linear
        r = lut[np.clip(r * n + 0.5, 0, n).astype(np.intp)]
        g = lut[np.clip(g * n + 0.5, 0, n).astype(np.intp)]
        b = lut[np.clip(b * n + 0.5, 0, n).astype(np.intp)]
        if self.trc == TRC_HLG:
            ys = 0.2627 * r + 0.6780 * g + 0.0593 * b
            k = self._ootf[np.clip(np.sqrt(ys) * n + 0.5, 0, n).astype(np.intp)]
            r *= k
            g *= k
            b *= k
        m = np.maximum(np.maximum(r, g), b)
        k = self._tm_gain[np.clip(np.sqrt(m * (1 / self._top)) * n + 0.5, 0, n).astype(np.intp)]
        r *= k
        g *= k
        b *= k
        M = _M2020_TO_709
        r7 = M[0, 0] * r + M[0, 1] * g + M[0, 2] * b
        g7 = M[1, 0] * r + M[1, 1] * g + M[1, 2] * b
        b7 = M[2, 0] * r + M[2, 1] * g + M[2, 2] * b
        # out of BT.709: move towards the colour's own luminance until no channel is negative
        lum = np.maximum(0.2126 * r7 + 0.7152 * g7 + 0.0722 * b7, 0)
        low = np.minimum(np.minimum(r7, g7), b7)
        out = low < 0
        if out.any():
            f = np.where(out, lum / np.maximum(lum - low, 1e-6), 1.0).astype(np.float32)
            r7 = lum + (r7 - lum) * f
            g7 = lum + (g7 - lum) * f
            b7 = lum + (b7 - lum) * f
        return r7, g7, b7

    def _signal(self, x: np.ndarray) -> np.ndarray:
        n = _LUT - 1
        return self._to_signal[np.clip(np.sqrt(np.clip(x, 0, 1)) * n + 0.5, 0, n).astype(np.intp)]

    def _rgb_signal_to_luma(self, rgb: np.ndarray) -> np.ndarray:
        r, g, b = self._linear_sdr(rgb[:, 0].copy(), rgb[:, 1].copy(), rgb[:, 2].copy())
        return 16 + 219 * (0.2126 * self._signal(r) + 0.7152 * self._signal(g) + 0.0722 * self._signal(b))

    # -- frames ------------------------------------------------------------------------

    def _colour_at(self, y10: np.ndarray, u10: np.ndarray, v10: np.ndarray):
        """Exact output (8-bit luma as float, U, V) for 10-bit Y'CbCr samples (1-D)."""
        yp = (y10.astype(np.float32) - 64) * np.float32(1 / 876)
        cb = (u10.astype(np.float32) - 512) * np.float32(1 / 896)
        cr = (v10.astype(np.float32) - 512) * np.float32(1 / 896)
        r = np.clip(yp + 1.4746 * cr, 0, 1)
        g = np.clip(yp - 0.16455 * cb - 0.57135 * cr, 0, 1)
        b = np.clip(yp + 1.8814 * cb, 0, 1)
        r, g, b = self._linear_sdr(r, g, b)
        rs, gs, bs = self._signal(r), self._signal(g), self._signal(b)
        luma = 0.2126 * rs + 0.7152 * gs + 0.0722 * bs
        u8 = np.clip(128.5 + 224 / 1.8556 * (bs - luma), 0, 255).astype(np.uint8)
        v8 = np.clip(128.5 + 224 / 1.5748 * (rs - luma), 0, 255).astype(np.uint8)
        return 16 + 219 * luma, u8, v8

    def _table(self):
        """The colour table, built on first use (65 x 257 x 257 entries of 32 bits, 17 MB,
        once per transfer and process, 1-3 s: see ``mapper_for``): per (luma every 16
        codes, Cb and Cr every 4) of a 2x2 block, its output V, U and the luma
        correction against the grey curve (int16), packed so one gather reads all three."""
        if self._lut3 is None:
            ys, us, vs = np.meshgrid(
                np.minimum(np.arange(65, dtype=np.uint16) * 16, 1023),
                np.minimum(np.arange(_CHROMA_BINS, dtype=np.uint16) * 4, 1023),
                np.minimum(np.arange(_CHROMA_BINS, dtype=np.uint16) * 4, 1023),
                indexing="ij",
            )
            luma, u8, v8 = self._colour_at(ys.ravel(), us.ravel(), vs.ravel())
            delta = np.rint(luma - self._grey_luma[ys.ravel()]).astype(np.int16)
            # one 32-bit entry per bin (V, U, then the correction: one gather, not three)
            packed = np.empty((delta.size, 4), dtype=np.uint8)
            packed[:, 0], packed[:, 1] = v8, u8
            packed[:, 2:] = delta.astype("<i2").view(np.uint8).reshape(-1, 2)
            self._lut3 = packed.view("<u4").reshape(-1)
        return self._lut3

    def convert(self, y10: np.ndarray, u10: np.ndarray, v10: np.ndarray):
        """10-bit planes (Y: h x w; U, V: h/2 x w/2; even h, w) -> 8-bit BT.709 planes.

        Colour per 2x2 block from the table (nearest of 65 luma rows x 257 x 257
        chroma levels; interpolating between luma rows measured no better on the test
        charts), luma per pixel from the grey curve plus its block's correction. Cost:
        see the module docstring."""
        h, w = y10.shape
        h2, w2 = h // 2, w // 2
        table = self._table()
        block = y10[0:h:2, 0:w:2] + y10[1:h:2, 0:w:2]  # four 10-bit values fit in 16 bits
        block += y10[0:h:2, 1:w:2]
        block += y10[1:h:2, 1:w:2]
        # nearest luma row (every 16 codes) and chroma bin (every 4, one on 512: greys stay neutral)
        level = np.minimum(block + 32, 4095) >> 6
        index = level.astype(np.int32) * (_CHROMA_BINS * _CHROMA_BINS)
        index += ((np.minimum(u10[:h2, :w2], 1023) + 2) >> 2).astype(np.int32) * _CHROMA_BINS
        index += ((np.minimum(v10[:h2, :w2], 1023) + 2) >> 2).astype(np.int32)
        entry = np.take(table, index).view(np.uint8).reshape(h2, w2, 4)
        v8 = np.ascontiguousarray(entry[..., 0])
        u8 = np.ascontiguousarray(entry[..., 1])
        correction = np.ascontiguousarray(entry[..., 2:]).view("<i2")[..., 0]
        y = np.take(self._grey_i16, np.minimum(y10, 1023))
        y.reshape(h2, 2, w2, 2)[...] += correction[:, None, :, None]
        np.clip(y, 0, 255, out=y)
        return y.astype(np.uint8), u8, v8

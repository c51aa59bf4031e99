"""A music bed synthesised locally with numpy, per (mood, music style).

Mood sets tempo, mode and chord progression; style sets the instruments
(piano arpeggios, ambient pads, strummed acoustic chords, electronic bass, arp and
drums, orchestral strings with low brass and timpani). ``seed`` picks the key and
small variations, so the same parameters always give the same samples. The bed
fades in briefly and fades out over its last two seconds.
"""

from __future__ import annotations

import functools

import numpy as np

SAMPLE_RATE = 32_000  # AAC at 128 kb/s low-passes near 16 kHz anyway; 27 % less to encode than 44.1k
FADE_OUT_S = 2.0

# mood -> (bpm, minor?, progression as scale degrees 0-6)
_MOODS = {
    "uplifting": (112, False, (0, 4, 5, 3)),
    "calm": (72, False, (0, 5, 3, 4)),
    "nostalgic": (84, False, (5, 3, 0, 4)),
    "energetic": (128, True, (0, 5, 2, 6)),
    "cinematic": (90, True, (0, 3, 5, 4)),
}
_MAJOR = (0, 2, 4, 5, 7, 9, 11)
_MINOR = (0, 2, 3, 5, 7, 8, 10)
_ROOTS = (48, 50, 51, 53, 55, 57)  # C3 D3 Eb3 F3 G3 A3


def synthesize(mood: str, style: str, duration_s: float, seed: int = 0, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Stereo int16 samples, shape (n, 2), exactly ``round(duration_s * sample_rate)`` long."""
    n = max(1, round(duration_s * sample_rate))
    rng = np.random.default_rng([seed & 0xFFFFFFFF, _stable_hash(mood), _stable_hash(style)])
    base_bpm, minor, progression = _MOODS.get(mood, _MOODS["nostalgic"])
    bpm = base_bpm * (1.0 + rng.uniform(-0.03, 0.03))
    scale = _MINOR if minor else _MAJOR
    root = _ROOTS[int(rng.integers(len(_ROOTS)))]
    beat = 60.0 / bpm
    bar = 4 * beat
    bars = int(np.ceil(duration_s / bar)) + 1
    chords = [_triad(root, scale, progression[i % len(progression)]) for i in range(bars)]
    mix = np.zeros((n + sample_rate * 3, 2), dtype=np.float32)
    voice = _STYLES.get(style, _piano)
    voice(mix, chords, beat, bar, sample_rate, rng)
    mix = mix[:n]
    mix = _reverb(mix, sample_rate, rng, wet=_REVERB.get(style, 0.2))
    peak = float(np.max(np.abs(mix))) or 1.0
    mix *= 0.85 / peak
    fade_in = min(n, round(0.05 * sample_rate))
    mix[:fade_in] *= np.linspace(0.0, 1.0, fade_in, dtype=np.float32)[:, None]
    fade_out = min(n, round(FADE_OUT_S * sample_rate))
    mix[n - fade_out :] *= np.linspace(1.0, 0.0, fade_out, dtype=np.float32)[:, None] ** 1.5
    return np.clip(np.rint(mix * 32767), -32768, 32767).astype(np.int16)


def _stable_hash(text: str) -> int:
    return int.from_bytes(text.encode("utf-8")[:8].ljust(8, b"\0"), "little") & 0xFFFFFFFF


def _triad(root: int, scale: tuple[int, ...], degree: int) -> tuple[int, int, int]:
    def note(step: int) -> int:
        return root + 12 * (step // 7) + scale[step % 7]

    return note(degree), note(degree + 2), note(degree + 4)


def _hz(midi: float) -> float:
    return 440.0 * 2 ** ((midi - 69) / 12)


@functools.lru_cache(maxsize=512)
def _tone(midi: int, length: int, kind: str, sample_rate: int) -> np.ndarray:
    """One note as float32 mono samples, cached: progressions repeat."""
    t = np.arange(length, dtype=np.float32) / sample_rate
    f = _hz(midi)
    out = np.zeros(length, dtype=np.float32)
    if kind == "piano":
        for h, amp in ((1, 1.0), (2, 0.45), (3, 0.22), (4, 0.12), (5, 0.06)):
            out += amp * np.sin(2 * np.pi * f * h * (1 + 0.0004 * h * h) * t) * np.exp(-t * (2.2 + 1.3 * h))
        out *= 1 - np.exp(-t * 400)
    elif kind == "pluck":
        for h in range(1, 8):
            out += (0.8 / h) * np.sin(2 * np.pi * f * h * t) * np.exp(-t * (3.0 + 2.5 * h))
        out *= 1 - np.exp(-t * 900)
    elif kind == "pad":
        for detune in (-0.004, 0.0, 0.005):
            for h in range(1, 6):
                out += (0.5 / h) * np.sin(2 * np.pi * f * (1 + detune) * h * t + h)
        out *= _ar(length, sample_rate, attack=0.8, release=1.0) / 3
    elif kind == "strings":
        vib = 1 + 0.004 * np.sin(2 * np.pi * 5.2 * t)
        phase = 2 * np.pi * f * np.cumsum(vib) / sample_rate
        for h in range(1, 7):
            out += (0.6 / h) * np.sin(h * phase)
        out *= _ar(length, sample_rate, attack=0.5, release=0.7)
    elif kind == "brass":
        for h in range(1, 6):
            out += (0.7 / h**0.8) * np.sin(2 * np.pi * f * h * t)
        out *= _ar(length, sample_rate, attack=0.12, release=0.4)
    elif kind == "bass":
        for h in range(1, 5):
            out += (0.9 / h) * np.sin(2 * np.pi * f * h * t)
        out *= _ar(length, sample_rate, attack=0.01, release=0.08)
    elif kind == "square":
        for h in (1, 3, 5, 7):
            out += (0.6 / h) * np.sin(2 * np.pi * f * h * t)
        out *= np.exp(-t * 6) * (1 - np.exp(-t * 600))
    elif kind == "bell":
        for ratio, amp in ((1, 1.0), (2.76, 0.4), (5.4, 0.2)):
            out += amp * np.sin(2 * np.pi * f * ratio * t) * np.exp(-t * 1.5 * ratio)
    return out


def _ar(length: int, sample_rate: int, attack: float, release: float) -> np.ndarray:
    env = np.ones(length, dtype=np.float32)
    a = min(length, round(attack * sample_rate))
    r = min(length - a, round(release * sample_rate))
    if a:
        env[:a] = np.linspace(0, 1, a, dtype=np.float32)
    if r:
        env[length - r :] = np.linspace(1, 0, r, dtype=np.float32)
    return env


def _add(mix: np.ndarray, start_s: float, sound: np.ndarray, gain: float, pan: float, sample_rate: int) -> None:
    i = round(start_s * sample_rate)
    if i >= len(mix):
        return
    j = min(len(mix), i + len(sound))
    seg = sound[: j - i] * gain
    mix[i:j, 0] += seg * (1 - pan) ** 0.5
    mix[i:j, 1] += seg * (1 + pan) ** 0.5


def _piano(mix, chords, beat, bar, sr, rng):
    pattern = [(0, 0), (1, 1), (2, 1), (1, 2)] if rng.random() < 0.5 else [(0, 0), (2, 1), (1, 1), (2, 2)]
    for b, chord in enumerate(chords):
        t0 = b * bar
        _add(mix, t0, _tone(chord[0] - 12, round(bar * sr), "piano", sr), 0.5, -0.2, sr)
        for step in range(8):
            idx, octave = pattern[step % 4]
            midi = chord[idx] + 12 * (octave > 0) + (12 if octave == 2 else 0)
            _add(mix, t0 + step * beat / 2, _tone(midi, round(1.2 * sr), "piano", sr), 0.28, 0.25 * (idx - 1), sr)


def _ambient(mix, chords, beat, bar, sr, rng):
    for b, chord in enumerate(chords):
        t0 = b * bar
        length = round((bar + 1.0) * sr)
        for k, midi in enumerate(chord):
            _add(mix, t0, _tone(midi + 12, length, "pad", sr), 0.22, (k - 1) * 0.5, sr)
        _add(mix, t0, _tone(chord[0] - 12, length, "pad", sr), 0.25, 0.0, sr)
        for step in range(2):
            if rng.random() < 0.6:
                midi = chord[int(rng.integers(3))] + 24
                _add(
                    mix,
                    t0 + (step * 2 + rng.integers(2)) * beat,
                    _tone(midi, round(2.0 * sr), "bell", sr),
                    0.10,
                    float(rng.uniform(-0.6, 0.6)),
                    sr,
                )


def _acoustic(mix, chords, beat, bar, sr, rng):
    strums = (0, 1.5, 2, 3) if rng.random() < 0.5 else (0, 1, 2, 2.5, 3)
    for b, chord in enumerate(chords):
        t0 = b * bar
        voicing = (chord[0], chord[1] + 12, chord[2], chord[0] + 12, chord[2] + 12)
        for s in strums:
            down = s == int(s)
            order = voicing if down else voicing[::-1]
            for k, midi in enumerate(order):
                _add(
                    mix,
                    t0 + s * beat + k * 0.012,
                    _tone(midi, round(1.0 * sr), "pluck", sr),
                    0.16 if down else 0.10,
                    0.3 * (k / 4 - 0.5),
                    sr,
                )
        _add(mix, t0, _tone(chord[0] - 12, round(2 * beat * sr), "pluck", sr), 0.3, 0.0, sr)
        _add(mix, t0 + 2 * beat, _tone(chord[0] - 12, round(2 * beat * sr), "pluck", sr), 0.25, 0.0, sr)


def _electronic(mix, chords, beat, bar, sr, rng):
    kick = _kick(sr)
    hat = _hat(sr, rng)
    arp = (0, 1, 2, 1) if rng.random() < 0.5 else (0, 2, 1, 2)
    for b, chord in enumerate(chords):
        t0 = b * bar
        for step in range(8):
            _add(mix, t0 + step * beat / 2, _tone(chord[0] - 12, round(beat / 2 * 0.9 * sr), "bass", sr), 0.3, 0.0, sr)
        for step in range(16):
            midi = chord[arp[step % 4]] + 24
            _add(
                mix,
                t0 + step * beat / 4,
                _tone(midi, round(beat / 4 * 1.5 * sr), "square", sr),
                0.12,
                0.4 if step % 2 else -0.4,
                sr,
            )
        for q in range(4):
            _add(mix, t0 + q * beat, kick, 0.55, 0.0, sr)
            _add(mix, t0 + (q + 0.5) * beat, hat, 0.12, 0.2, sr)


def _orchestral(mix, chords, beat, bar, sr, rng):
    timp = _kick(sr, start_hz=110, end_hz=70, decay=6)
    for b, chord in enumerate(chords):
        t0 = b * bar
        length = round((bar + 0.6) * sr)
        for k, midi in enumerate((chord[0], chord[1], chord[2], chord[0] + 12)):
            _add(mix, t0, _tone(midi + 12, length, "strings", sr), 0.16, (k - 1.5) * 0.35, sr)
        _add(mix, t0, _tone(chord[0] - 12, round(bar * sr), "brass", sr), 0.22, 0.0, sr)
        _add(mix, t0 + 2 * beat, _tone(chord[2] - 12, round(2 * beat * sr), "brass", sr), 0.12, 0.1, sr)
        _add(mix, t0, timp, 0.35, 0.0, sr)
        if b % 2:
            _add(mix, t0 + 3.5 * beat, timp, 0.2, 0.0, sr)


def _kick(sr: int, start_hz: float = 120, end_hz: float = 45, decay: float = 9) -> np.ndarray:
    t = np.arange(round(0.4 * sr), dtype=np.float32) / sr
    freq = end_hz + (start_hz - end_hz) * np.exp(-t * 30)
    return (np.sin(2 * np.pi * np.cumsum(freq) / sr) * np.exp(-t * decay)).astype(np.float32)


def _hat(sr: int, rng) -> np.ndarray:
    n = round(0.05 * sr)
    noise = rng.standard_normal(n).astype(np.float32)
    noise = np.diff(noise, prepend=0)  # crude high-pass
    return noise * np.exp(-np.arange(n, dtype=np.float32) / sr * 80)


def _reverb(mix: np.ndarray, sr: int, rng, wet: float) -> np.ndarray:
    """Convolution with a short synthetic room (decaying noise), per channel.

    The tail is computed at a quarter of the sample rate (a room tail is dark
    anyway), which makes the FFTs 4x smaller."""
    if wet <= 0:
        return mix
    q = 4
    n = len(mix)
    low = mix[: n // q * q].reshape(-1, q, 2).mean(axis=1)
    lsr = sr / q
    length = round(1.2 * lsr)
    decay = np.exp(-np.arange(length, dtype=np.float32) / lsr * 4.5)
    ir = rng.standard_normal((length, 2)).astype(np.float32) * decay[:, None]
    ir[: round(0.015 * lsr)] = 0
    ir /= np.sqrt(np.sum(ir**2, axis=0, keepdims=True))
    size = 1 << int(np.ceil(np.log2(len(low) + length)))
    spec = np.fft.rfft(low, size, axis=0) * np.fft.rfft(ir, size, axis=0)
    tail_low = np.fft.irfft(spec, size, axis=0)[: len(low)]
    src = (np.arange(len(low)) + 0.5) * q
    pos = np.arange(n)
    tail = np.empty_like(mix)
    for ch in range(2):
        tail[:, ch] = np.interp(pos, src, tail_low[:, ch])
    return mix * (1 - wet) + tail * wet * 2.0


_STYLES = {
    "piano": _piano,
    "ambient": _ambient,
    "acoustic": _acoustic,
    "electronic": _electronic,
    "orchestral": _orchestral,
}
_REVERB = {"piano": 0.25, "ambient": 0.45, "acoustic": 0.15, "electronic": 0.12, "orchestral": 0.35}

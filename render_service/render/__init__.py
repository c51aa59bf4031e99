"""The renderer: a Script plus media files to an MP4 (H.264 High + AAC,
faststart) and a JPEG poster, with bounded memory and frames generated in
step with the encoder. See renderer.py for the entry points."""

from .renderer import make_poster, render_reel
from .types import (
    RESOLUTIONS,
    MediaInput,
    RenderCancelled,
    RenderError,
    RenderParams,
    RenderStats,
    ShotFailed,
    ShotRender,
    params_for,
)

__all__ = [
    "RESOLUTIONS",
    "MediaInput",
    "RenderCancelled",
    "RenderError",
    "RenderParams",
    "RenderStats",
    "ShotFailed",
    "ShotRender",
    "make_poster",
    "params_for",
    "render_reel",
]

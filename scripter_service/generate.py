"""The scripter's one domain entry point: a script for a request, in the mode asked
for when it can, else the fast script with the reason it fell back.

``ScriptGenerator.generate`` never raises for LLM problems. AGENTIC requests run the
tool loop (``agentic.agentic_script``) over the library's context pack,
``<library root>/.reels-context``, within the caller's deadline less a safety
margin, so that the fast fallback still answers in time.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import structlog

from reels_core import libraries
from reels_core.domain import Mode, Script, ScriptRequest
from reels_core.fast_script import fast_script, zone
from reels_core.libraries import CONTEXT_DIR, InvalidLibraryKey, normalize_library_key
from scripter_service.agentic import LLM_NOT_CONFIGURED, LLM_TIMEOUT, LoopLimits, agentic_script
from scripter_service.llm import ChatModel, LLMConfig, OpenAIChat
from scripter_service.tools.registry import ToolRegistry, default_registry
from service_kit.settings import Settings

log = structlog.get_logger(__name__)

NOTES_CACHE_DIR = "notes-index"
DEADLINE_MARGIN_S = 1.0  # kept back from the caller's deadline for the fallback ...
DEADLINE_MARGIN_FRACTION = 0.10  # ... or this share of it, whichever is more
NO_LIBRARY_TOOLS = ("media_details",)  # what a request for an unknown library may use


MAX_REGISTRIES = 32  # (library, zone) pairs whose parsed context packs are kept


@dataclass
class ScriptGenerator:
    llm_config: LLMConfig | None = None
    libraries: dict[str, Path] = field(default_factory=dict)
    cache_dir: Path = Path("./var/cache") / NOTES_CACHE_DIR
    max_steps: int = 8
    tool_margin_h: float = 24.0
    _llm: ChatModel | None = field(default=None, repr=False)
    _registries: dict[tuple[str, str], ToolRegistry] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def from_settings(cls, settings: Settings) -> ScriptGenerator:
        config = LLMConfig(
            base_url=settings.llm_base_url,
            model=settings.llm_model,
            api_key=settings.llm_api_key,
            timeout_s=settings.llm_timeout_s,
        )
        return cls(
            llm_config=config if config.configured else None,
            libraries=library_roots(settings),
            cache_dir=settings.cache_dir / NOTES_CACHE_DIR,
            max_steps=settings.llm_max_steps,
            tool_margin_h=settings.tool_margin_h,
        )

    @property
    def llm_configured(self) -> bool:
        return self.llm_config is not None and self.llm_config.configured

    def generate(self, req: ScriptRequest, deadline_s: float | None = None) -> Script:
        """The script for ``req``. ``deadline_s``: seconds the caller still waits
        (None: no deadline). AGENTIC falls back to FAST with a reason, never raises."""
        started = time.monotonic()
        script = fast_script(req)
        if req.mode is not Mode.AGENTIC:
            return script
        config = self.llm_config
        if config is None or not config.configured:
            return dataclasses.replace(script, mode_used=Mode.FAST, fallback_reason=LLM_NOT_CONFIGURED)
        budget = agentic_budget_s(deadline_s, config.timeout_s, self.max_steps)
        limits = LoopLimits(
            max_steps=self.max_steps,
            call_timeout_s=config.timeout_s,
            deadline=started + budget,
        )
        if limits.next_call_timeout() is None:
            return dataclasses.replace(script, mode_used=Mode.FAST, fallback_reason=LLM_TIMEOUT)
        return agentic_script(
            req,
            self._chat_model(),
            self.registry_for(req.library, req.timezone),
            limits,
            tool_margin=dt.timedelta(hours=self.tool_margin_h),
            draft=script,
        )

    def context_dir(self, library: str) -> Path | None:
        """``<library root>/.reels-context`` of a known library, else None."""
        try:
            key = normalize_library_key(library)
        except InvalidLibraryKey:
            return None
        root = self.libraries.get(key)
        return None if root is None else root / CONTEXT_DIR

    def registry_for(self, library: str, timezone: str) -> ToolRegistry:
        """The read-only tools over a library's context pack, one registry per
        (library, time zone) so the providers' parsed files and indexes are reused.
        An unknown library gets the media tool only."""
        context = self.context_dir(library)
        tz = zone(timezone)
        # Keyed by the zone it resolves to (any unknown name is UTC), and at most
        # MAX_REGISTRIES kept, least recently used dropped: each holds its own parsed
        # copy of the pack, and the caller chooses the string.
        key = (str(context or ""), str(tz))
        with self._lock:
            registry = self._registries.pop(key, None)
            if registry is not None:
                self._registries[key] = registry  # most recent last
            else:
                if context is None:
                    full = default_registry(self.cache_dir / "no-context", tz, self.cache_dir)
                    registry = ToolRegistry({name: full.tools[name] for name in NO_LIBRARY_TOOLS})
                else:
                    registry = default_registry(context, tz, self.cache_dir)
                self._registries[key] = registry
                while len(self._registries) > MAX_REGISTRIES:
                    del self._registries[next(iter(self._registries))]
            return registry

    def _chat_model(self) -> ChatModel:
        with self._lock:
            if self._llm is None:
                assert self.llm_config is not None
                self._llm = OpenAIChat(self.llm_config)
            return self._llm


def agentic_budget_s(deadline_s: float | None, call_timeout_s: float, max_steps: int) -> float:
    """Seconds the tool loop may use: the caller's deadline less max(1 s, 10 %);
    with no deadline, every step's full timeout."""
    if deadline_s is None:
        return call_timeout_s * max_steps
    margin = max(DEADLINE_MARGIN_S, DEADLINE_MARGIN_FRACTION * deadline_s)
    return max(0.0, deadline_s - margin)


def library_roots(settings: Settings) -> dict[str, Path]:
    """``REEL_LIBRARIES`` as {key: root}; when empty, the sample library."""
    try:
        return libraries.library_roots(settings.libraries, settings.data_dir)
    except ValueError as exc:  # the render service refuses to start; the scripter degrades
        log.error("libraries_invalid", error=str(exc))
        return {}

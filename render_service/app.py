"""The render service's composition root: settings -> ledger, store, libraries,
scripter client, pipeline, job runner, maintenance passes and background loops.

`App.build` is the one place that builds them, and it hands each exactly what it
uses (the pattern of cosmicpython's ``bootstrap.py``): the passes get the pipeline
deps, a `PassRunner` (engine, owner, lock TTL) and their settings values, never the
`App`. The servicers, the server and the tests all build on one `App`."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import structlog
from sqlalchemy.engine import Engine

from ledger.db import ledger_reachable, make_engine, migrate
from reels_core import clock
from reels_core.errors import InvalidArgument, NotFound
from reels_core.libraries import InvalidLibraryKey, LibraryConfig, configured_libraries, normalize_library_key
from render_service.indexing import RescanResult, register_libraries, rescan
from render_service.jobs import JobRunner, QueueLimits
from render_service.loops import Loops
from render_service.loops.consolidation import ConsolidationPass
from render_service.loops.passes import PassRunner
from render_service.loops.pregen import PregenPass
from render_service.loops.retention import RetentionPass, RetentionPolicy
from render_service.pipeline import PipelineDeps
from render_service.scans import LibraryScans
from render_service.scripter_client import ScripterClient
from render_service.store import ReelStore, open_store
from service_kit.settings import Settings

log = structlog.get_logger("app")


@dataclass
class App:
    settings: Settings
    engine: Engine
    store: ReelStore
    scripter: ScripterClient
    libraries: dict[str, LibraryConfig]
    deps: PipelineDeps
    runner: JobRunner
    scans: LibraryScans[RescanResult]
    pregen: PregenPass
    retention: RetentionPass
    consolidation: ConsolidationPass
    loops: Loops
    _threads: list[threading.Thread] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    # Set once the start-up scan has finished (the missed-night catch-up waits for it).
    scanned: threading.Event = field(default_factory=threading.Event)

    @classmethod
    def build(cls, settings: Settings) -> App:
        clock.configure(settings.today, settings.clock_shift_s)
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        engine = make_engine(settings.database_url or None, settings.data_dir)
        migrate(engine)
        store = open_store(
            settings.blob_url, settings.reel_dir, settings.s3_endpoint_url, settings.data_dir / "staging"
        )
        libraries = configured_libraries(settings.libraries, settings.data_dir, settings.timezone)
        register_libraries(engine, libraries)
        scans = LibraryScans(lambda key: rescan(engine, libraries[key], analyse=settings.analysis_enabled))
        scripter = ScripterClient(
            settings.scripter_addr,
            settings.scripter_timeout_s,
            settings.scripter_token,
            tls=settings.tls_enabled or settings.scripter_tls,
            ca_pem=Path(settings.scripter_ca_file).read_bytes() if settings.scripter_ca_file else None,
        )
        deps = PipelineDeps(
            engine=engine,
            store=store,
            scripter=scripter,
            libraries=libraries,
            max_shots=settings.max_shots,
            target_duration_s=settings.target_duration_s,
            valid_hours=settings.valid_hours(),
            keep_per_scope=settings.keep_per_scope,
            scans=scans,
            trip_min_km=settings.trip_min_km,
            trip_valid_hours=settings.valid_hours_trip,
        )
        runner = JobRunner(
            deps,
            owner_id=settings.owner_id,
            workers=settings.render_workers,
            lease_s=settings.job_lease_s,
            single_process=engine.dialect.name == "sqlite",
            limits=QueueLimits(
                max_queued=settings.max_queued_jobs,
                max_queued_per_peer=settings.max_queued_jobs_per_peer,
                min_free_bytes=settings.min_free_disk_mb << 20,
            ),
        )
        passes = PassRunner(engine, settings.owner_id, settings.lock_ttl_s)
        pregen = PregenPass(
            deps,
            passes,
            spans=tuple(settings.pregen_spans),
            kinds=tuple(settings.pregen_kinds),
            min_free_mb=settings.min_free_disk_mb,
        )
        retention = RetentionPass(
            deps,
            passes,
            RetentionPolicy(
                cache_max_age_s=settings.cache_max_age_days * 86400,
                tmp_grace_s=settings.cache_tmp_grace_min * 60,
                job_retention_s=settings.job_retention_days * 86400,
            ),
        )
        consolidation = ConsolidationPass(engine, passes, tuple(sorted(libraries)))
        loops = Loops(
            engine,
            pregen=pregen if settings.pregen_enabled else None,
            pregen_hour=settings.pregen_hour,
            timezone=settings.timezone,
            retention=retention if settings.cache_sweep_enabled else None,
            sweep_interval_s=settings.cache_sweep_interval_h * 3600,
            consolidation=consolidation,
            consolidate_interval_s=settings.consolidate_interval_h * 3600,
        )
        return cls(
            settings, engine, store, scripter, libraries, deps, runner, scans, pregen, retention, consolidation, loops
        )

    # --- lookups shared by the servicers ------------------------------------------
    def library(self, raw: str) -> LibraryConfig:
        """INVALID_ARGUMENT (LIBRARY_KEY_INVALID) or NOT_FOUND (LIBRARY_NOT_FOUND)."""
        if not raw or not raw.strip():
            raise InvalidArgument("LIBRARY_KEY_INVALID", "library is required")
        try:
            key = normalize_library_key(raw)
        except InvalidLibraryKey as exc:
            raise InvalidArgument("LIBRARY_KEY_INVALID", str(exc)) from None
        lib = self.libraries.get(key)
        if lib is None:
            raise NotFound("LIBRARY_NOT_FOUND", f"no library {key!r}; configured: {', '.join(sorted(self.libraries))}")
        return lib

    # --- background -----------------------------------------------------------
    def _spawn(self, name: str, target: Callable[[], None]) -> None:
        t = threading.Thread(target=target, name=name, daemon=True)
        t.start()
        self._threads.append(t)

    def start(self) -> None:
        """Start workers and loops; never waits for a scan or a pass."""
        self.runner.start()
        self._spawn("initial-scan", self._initial_scan)
        self._threads.extend(self.loops.start(self._stop, self.scanned))

    def _initial_scan(self) -> None:
        try:
            for lib in self.libraries.values():
                if self._stop.is_set():
                    return
                try:
                    self.scans.scan(lib.key)
                except Exception:
                    log.exception("initial scan failed", library=lib.key)
        finally:
            self.scanned.set()

    def healthy(self) -> bool:
        """Serving needs the ledger to answer and, once started, a live job worker
        (health reports NOT_SERVING otherwise)."""
        if self.runner.started and self.runner.alive_workers() == 0:
            return False
        return ledger_reachable(self.engine)

    def watch_health(self, set_serving: Callable[[bool], None]) -> None:
        """Check `healthy` every REEL_HEALTH_CHECK_S and report each change."""

        def loop() -> None:
            last: bool | None = None
            while not self._stop.is_set():
                now = self.healthy()
                if now != last:
                    if last is not None:
                        log.warning("health changed", serving=now)
                    set_serving(now)
                    last = now
                self._stop.wait(self.settings.health_check_s)

        self._spawn("health", loop)

    def stop(self) -> None:
        self._stop.set()
        self.runner.stop(timeout=self.settings.grace_s)
        # The background threads (a scan inside libheif, a health check) end before
        # the process does: a daemon thread still inside native code when the
        # interpreter exits can abort it ("terminate called without an active
        # exception", seen on SIGTERM during the start-up scan).
        deadline = time.monotonic() + self.settings.grace_s
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))
        self.scripter.close()

    @property
    def threads(self) -> tuple[threading.Thread, ...]:
        """The background threads started so far: the initial scan and the loops
        (the job workers are the runner's)."""
        return tuple(self._threads)

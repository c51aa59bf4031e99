"""Nightly pre-generation: every library x span x kind through `produce_reel`, with
dedup, a free-disk check, the library's captured parameters replayed, and
`prune_superseded` after each recorded reel."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import structlog

from ledger import exclusions as exclusion_dao
from ledger import prefs as prefs_dao
from ledger import reels as reel_dao
from ledger.db import session_scope
from ledger.models import RunKind, RunTrigger
from reels_core.domain import Kind, Mode, Span
from reels_core.errors import FailedPrecondition, NotFound, ReelError
from reels_core.libraries import LibraryConfig
from reels_core.windows import is_supported, local_midnight_utc
from render_service.catalog import precomputed_reel
from render_service.indexing import rescan
from render_service.locks import Lease
from render_service.loops.passes import PassOutcome, PassResult, PassRunner
from render_service.pipeline import (
    PipelineDeps,
    ReelSpec,
    RenderChoice,
    check_anchor,
    library_today,
    media_fingerprint,
    produce_reel,
    reel_window,
    window_media,
)

log = structlog.get_logger("pregen")

MB = 1024 * 1024


@dataclass
class ScopeOutcome:
    library: str
    span: str
    kind: str
    outcome: str  # RENDERED, SKIPPED, FAILED, WOULD_RENDER
    reason: str = ""
    reel_key: str = ""
    message: str = ""
    anchor_date: str = ""


def replayed_choice(deps: PipelineDeps, library: str) -> tuple[RenderChoice, Mode]:
    """The parameters the library's last CreateReel captured (user_ai_prefs)."""
    with session_scope(deps.engine) as session:
        row = prefs_dao.get_user_ai_prefs(session, library)
    params = dict(row.params_json) if row else {}
    mode = Mode(params["mode"]) if params.get("mode") in {m.value for m in Mode} else Mode.FAST
    return RenderChoice.from_dict(params), mode


def prune_scope(deps: PipelineDeps, library: str, span: str, kind: str, dry_run: bool = False) -> list[dict[str, Any]]:
    """Keep the newest `keep_per_scope` rows; delete the others' rows and files.
    An open stream on a pruned reel still finishes (it holds the file open)."""
    removed = []
    with session_scope(deps.engine) as session:
        if dry_run:
            rows = reel_dao.newest_for_scope(session, library, span, kind)[deps.keep_per_scope :]
        else:
            rows = reel_dao.prune_superseded(session, library, span, kind, deps.keep_per_scope)
            exclusion_dao.delete_reel_media(session, [r.key for r in rows])
    for row in rows:
        files = [row.video_path, row.sidecar_path, row.poster_path]
        sizes = {name: (st.size if (st := deps.store.stat(name)) else 0) for name in files if name}
        if not dry_run:
            for name in files:
                if name:
                    deps.store.delete(name)
        removed.append({"key": row.key, "files": sizes})
    return removed


def pregen_one(
    deps: PipelineDeps,
    lib: LibraryConfig,
    span: Span,
    kind: Kind,
    anchor: dt.date,
    *,
    dry_run: bool,
    min_free_mb: int,
) -> ScopeOutcome:
    out = ScopeOutcome(lib.key, span.value, kind.value, "SKIPPED", anchor_date=anchor.isoformat())
    if not is_supported(span, kind):
        out.reason = "SPAN_KIND_UNSUPPORTED"
        return out
    try:
        window = reel_window(deps, lib, span, kind, anchor)
    except FailedPrecondition as exc:  # TRIP: no trip ended in the lookback (or no GPS)
        out.reason = exc.reason if deps.indexed(lib.key) else "LIBRARY_SCANNING"
        return out
    rows = window_media(deps.engine, lib, window)
    if not rows:
        # Before the first scan is over an empty window proves nothing.
        out.reason = "NO_MEDIA_IN_WINDOW" if deps.indexed(lib.key) else "LIBRARY_SCANNING"
        return out
    fingerprint = media_fingerprint(rows)
    start_utc = local_midnight_utc(window.start, lib.timezone)
    end_utc = local_midnight_utc(window.end, lib.timezone)
    # Dedup: a valid reel of the same window made from the same media. Hidden media
    # are left out of the fingerprint, and a reel that shows one is not served, so
    # hiding (or unhiding) an item of the window makes this scope render again.
    try:
        current = precomputed_reel(deps.engine, deps.store, lib.key, span, kind)
    except NotFound:
        current = None
    if current is not None:
        with session_scope(deps.engine) as session:
            row = reel_dao.get_reel_by_key(session, current.key)
        if row and row.media_fingerprint == fingerprint and row.window_start == start_utc and row.window_end == end_utc:
            out.reason, out.reel_key = "DEDUP", row.key
            return out
    free = deps.store.free_bytes()
    if free is not None and free < min_free_mb * MB:
        out.reason = "LOW_DISK"
        out.message = f"{free // MB} MB free, {min_free_mb} MB needed"
        return out
    if dry_run:
        out.outcome = "WOULD_RENDER"
        return out
    choice, mode = replayed_choice(deps, lib.key)
    spec = ReelSpec(lib.key, span, kind, anchor, mode=mode, choice=choice, precomputed=True, job_id="pregen")
    try:
        produced = produce_reel(deps, spec, media_rows=rows)
    except ReelError as exc:
        out.outcome = "FAILED" if exc.code not in ("FAILED_PRECONDITION",) else "SKIPPED"
        out.reason, out.message = exc.reason, exc.message
        return out
    out.outcome, out.reel_key = "RENDERED", produced.key
    if produced.script.fallback_reason:
        out.message = f"script fallback: {produced.script.fallback_reason}"
    try:
        prune_scope(deps, lib.key, span.value, kind.value)
    except Exception as exc:  # the reel is recorded; the retention pass prunes later
        log.exception("prune failed", library=lib.key, span=span.value, kind=kind.value)
        out.message = "; ".join(filter(None, [out.message, f"prune failed ({type(exc).__name__})"]))
    return out


def run_pregen_batch(
    deps: PipelineDeps,
    libraries: Sequence[LibraryConfig],
    spans: Sequence[Span],
    kinds: Sequence[Kind],
    anchor: dt.date | None,
    *,
    dry_run: bool,
    min_free_mb: int,
    lease: Lease | None = None,
    rescan_first: bool = False,
) -> PassResult:
    """Every library x span x kind; a failure in one scope is recorded and the
    batch goes on. `rescan_first` (the nightly pass) indexes each library first,
    so that media added since the last scan are in tonight's reels."""
    outcomes: list[ScopeOutcome] = []
    errors: list[str] = []
    rescanned: dict[str, dict[str, int]] = {}

    def lost() -> bool:
        return lease is not None and lease.is_lost

    for lib in libraries:
        if lost():
            break
        if rescan_first and not dry_run:
            try:
                scan = deps.scans.scan(lib.key) if deps.scans else rescan(deps.engine, lib)
                rescanned[lib.key] = {"added": scan.added, "removed": scan.removed}
            except Exception as exc:  # render from the index as it is
                log.exception("rescan failed", library=lib.key)
                errors.append(f"{lib.key}: rescan failed ({type(exc).__name__})")
        lib_anchor = anchor or library_today(lib.timezone)
        for span, kind in itertools.product(spans, kinds):
            if lost():
                break
            try:
                outcome = pregen_one(deps, lib, span, kind, lib_anchor, dry_run=dry_run, min_free_mb=min_free_mb)
            except Exception as exc:  # one scope's failure never aborts the batch
                log.exception("scope failed", library=lib.key, span=span.value, kind=kind.value)
                outcome = ScopeOutcome(
                    lib.key,
                    span.value,
                    kind.value,
                    "FAILED",
                    "INTERNAL",
                    message=type(exc).__name__,
                    anchor_date=lib_anchor.isoformat(),
                )
            if outcome.outcome == "FAILED":
                errors.append(f"{lib.key}/{span.value}/{kind.value}: {outcome.reason}")
            log.info(
                "scope",
                library=lib.key,
                span=span.value,
                kind=kind.value,
                outcome=outcome.outcome,
                reason=outcome.reason,
            )
            outcomes.append(outcome)
    if len(outcomes) < len(libraries) * len(spans) * len(kinds) and lost():
        errors.append("LOCK_LOST: stopped before the remaining scopes")
    counts: dict[str, int] = {}
    for o in outcomes:
        counts[o.outcome] = counts.get(o.outcome, 0) + 1
    report: dict[str, Any] = {
        "anchor_date": anchor.isoformat() if anchor else None,
        "counts": counts,
        "scopes": [asdict(o) for o in outcomes],
    }
    if rescanned:
        report["rescanned"] = rescanned
    return PassResult(report, errors)


@dataclass(frozen=True)
class PregenPass:
    """RunPregenNow and the nightly scheduler: validate, lock, run, record.

    `spans` and `kinds` are the defaults (REEL_PREGEN_SPANS, REEL_PREGEN_KINDS); the
    libraries are those of `deps`."""

    deps: PipelineDeps
    runner: PassRunner
    spans: tuple[Span, ...]
    kinds: tuple[Kind, ...]
    min_free_mb: int

    def run(
        self,
        *,
        anchor: dt.date | None = None,
        libraries: Sequence[LibraryConfig] = (),
        spans: Sequence[Span] = (),
        kinds: Sequence[Kind] = (),
        dry_run: bool = False,
        trigger: RunTrigger = RunTrigger.MANUAL,
        request_id: str = "",
    ) -> PassOutcome:
        """Every library of `libraries` (all when empty) x span x kind; an `anchor`
        in the future of a library is refused before anything runs."""
        libs = list(libraries) or list(self.deps.libraries.values())
        for lib in libs:
            if anchor is not None:
                check_anchor(anchor, lib.timezone)
        chosen_spans = list(spans) or list(self.spans)
        chosen_kinds = list(kinds) or list(self.kinds)
        return self.runner.run(
            RunKind.PREGEN,
            trigger,
            dry_run,
            lambda lease: run_pregen_batch(
                self.deps,
                libs,
                chosen_spans,
                chosen_kinds,
                anchor,
                dry_run=dry_run,
                min_free_mb=self.min_free_mb,
                lease=lease,
                rescan_first=trigger == RunTrigger.SCHEDULED,
            ),
            request_id=request_id,
        )

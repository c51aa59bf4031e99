"""Retention: prune superseded ledger rows, sweep the reel cache, expire old job rows.

One planning function decides what goes; the dry run returns that plan, the real run
deletes exactly it. Nothing younger than its grace period is touched.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from typing import Any

import structlog

from ledger import jobs as job_dao
from ledger import reels as reel_dao
from ledger import retention as retention_dao
from ledger.db import session_scope, utcnow
from ledger.models import RunKind, RunTrigger
from render_service.locks import Lease
from render_service.loops.passes import PassOutcome, PassResult, PassRunner
from render_service.loops.pregen import prune_scope
from render_service.pipeline import PipelineDeps, reel_file_key
from render_service.store import TMP_SUFFIX

log = structlog.get_logger("retention")

REEL_EXTENSIONS = (".mp4", ".json", ".jpg")
CRUFT_EXTENSIONS = (".part",)


@dataclass(frozen=True)
class Deletion:
    type: str  # FILE or ROW
    path: str  # object name, or "reel_jobs/<id>" / "precomputed_reels/<key>"
    size_bytes: int
    reason: str


@dataclass(frozen=True)
class RetentionPolicy:
    cache_max_age_s: float
    tmp_grace_s: float
    job_retention_s: float

    def job_cutoff(self, now: dt.datetime) -> dt.datetime:
        """Terminal jobs last updated before this instant are past their retention."""
        return now - dt.timedelta(seconds=self.job_retention_s)


def plan_retention(deps: PipelineDeps, policy: RetentionPolicy, now: dt.datetime | None = None) -> list[Deletion]:
    """Everything a retention run would delete now, in the order it deletes."""
    now = now or utcnow()
    plan: list[Deletion] = []
    superseded_files: set[str] = set()

    # 1. Superseded ledger rows (normally pruned right after each recorded reel).
    with session_scope(deps.engine) as session:
        scopes = reel_dao.stats_by_scope(session)
    for scope in scopes:
        for removed in prune_scope(deps, scope.library_key, scope.span, scope.kind, dry_run=True):
            plan.append(Deletion("ROW", f"precomputed_reels/{removed['key']}", 0, "SUPERSEDED"))
            for name, size in removed["files"].items():
                superseded_files.add(name)
                plan.append(Deletion("FILE", name, size, "SUPERSEDED"))

    # 2. The cache: files named as this service names its reels (and no other)
    #    that no ledger row refers to and no live job owns (a job's reel key is on
    #    its row from the moment it starts).
    with session_scope(deps.engine) as session:
        referenced = reel_dao.referenced_paths(session)
        live_keys = job_dao.live_reel_keys(session)
    objects = {obj.name: obj for obj in deps.store.list()}
    for name, obj in sorted(objects.items()):
        if name in referenced or name in superseded_files:
            continue
        if reel_file_key(name) is None:
            continue  # not a name this service writes: someone else's file
        age = obj.age_s  # file times are real time, whatever the domain clock says
        stem, ext = _split(name)
        if name.endswith(TMP_SUFFIX) or ext in CRUFT_EXTENSIONS:
            if age > policy.tmp_grace_s:
                plan.append(Deletion("FILE", name, obj.size, "TMP_CRUFT"))
            continue
        if ext not in REEL_EXTENSIONS or stem in live_keys:
            continue
        video = f"{stem}.mp4"
        if ext == ".mp4":
            if age > policy.cache_max_age_s:
                plan.append(Deletion("FILE", name, obj.size, "CACHE_EXPIRED"))
        elif video not in objects or video in superseded_files:
            # A sidecar or poster whose video never appeared (crashed render).
            if age > policy.tmp_grace_s and video not in superseded_files:
                plan.append(Deletion("FILE", name, obj.size, "ORPHAN_SIDECAR" if ext == ".json" else "ORPHAN_POSTER"))
        elif age > policy.cache_max_age_s and objects[video].age_s > policy.cache_max_age_s:
            plan.append(Deletion("FILE", name, obj.size, "CACHE_EXPIRED"))

    # 3. Job and event rows past their retention.
    with session_scope(deps.engine) as session:
        ids = job_dao.expired_job_ids(session, policy.job_cutoff(now))
    plan.extend(Deletion("ROW", f"reel_jobs/{job_id}", 0, "JOB_EXPIRED") for job_id in ids)
    return plan


def _split(name: str) -> tuple[str, str]:
    base = name[: -len(TMP_SUFFIX)] if name.endswith(TMP_SUFFIX) else name
    stem, dot, ext = base.rpartition(".")
    return (stem, f".{ext}") if dot else (base, "")


def apply_retention(deps: PipelineDeps, plan: list[Deletion], job_cutoff: dt.datetime) -> list[str]:
    """Delete exactly the plan; returns errors (a failure never stops the rest).

    The jobs go by `job_cutoff`, the cutoff the plan listed them with: no job joins
    that set after the plan is made, as every update stamps the present."""
    errors: list[str] = []
    superseded = [item.path.split("/", 1)[1] for item in plan if item.type == "ROW" and item.reason == "SUPERSEDED"]
    if superseded:
        with session_scope(deps.engine) as session:
            retention_dao.delete_reels(session, superseded)
    for item in plan:
        if item.type != "FILE":
            continue
        try:
            deps.store.delete(item.path)
        except OSError as exc:
            errors.append(f"{item.path}: {exc.strerror}")
    if any(item.reason == "JOB_EXPIRED" for item in plan):
        with session_scope(deps.engine) as session:
            job_dao.expire_jobs(session, job_cutoff)
    return errors


def run_retention(deps: PipelineDeps, policy: RetentionPolicy, dry_run: bool) -> tuple[PassResult, list[Deletion]]:
    now = utcnow()
    plan = plan_retention(deps, policy, now)
    errors = [] if dry_run else apply_retention(deps, plan, policy.job_cutoff(now))
    counts: dict[str, int] = {}
    for item in plan:
        counts[item.reason] = counts.get(item.reason, 0) + 1
    report: dict[str, Any] = {
        "dry_run": dry_run,
        "counts": counts,
        "bytes": sum(i.size_bytes for i in plan),
        "deleted": [asdict(i) for i in plan[:1000]],
        "listed": min(len(plan), 1000),
        "total": len(plan),
    }
    return PassResult(report, errors), plan


@dataclass(frozen=True)
class RetentionPass:
    """RunRetentionNow and the cache sweeper: lock, plan, delete (not in a dry run),
    record. Returns the plan with the outcome."""

    deps: PipelineDeps
    runner: PassRunner
    policy: RetentionPolicy

    def run(
        self, *, dry_run: bool = True, trigger: RunTrigger = RunTrigger.MANUAL, request_id: str = ""
    ) -> tuple[PassOutcome, list[Deletion]]:
        captured: dict[str, list[Deletion]] = {}

        def body(_lease: Lease) -> PassResult:
            result, captured["plan"] = run_retention(self.deps, self.policy, dry_run)
            return result

        outcome = self.runner.run(RunKind.RETENTION, trigger, dry_run, body, request_id)
        if "plan" not in captured:  # a repeated request_id: the recorded report (first 1000 items)
            captured["plan"] = [Deletion(**d) for d in outcome.result.report.get("deleted", [])]
        return outcome, captured["plan"]

"""Experiment tracker on Redis: experiments hold runs; runs hold params, metric series, artifacts.

Every write to a run is one Lua script that first checks the run is still ``running`` (an ended
run refuses more data with :class:`~registry.errors.RunNotActive`) and then writes everything of
the call at once.  An experiment and all its runs share one hash tag (see :mod:`registry.keys`).

``end_run`` records resource usage: wall time since ``start_run``, and, when the run was started by
this process, the process CPU time spent since then (``cpu_s``, user + system; concurrent runs in
one process share it), the process peak resident memory (``peak_rss_bytes``, lifetime peak from
``getrusage``) and the resident memory at the end (``rss_bytes``, psutil).

Examples
--------
>>> grid_points({"lr": [0.1, 0.01], "depth": [3, 5]})
[{'lr': 0.1, 'depth': 3}, {'lr': 0.1, 'depth': 5}, {'lr': 0.01, 'depth': 3}, {'lr': 0.01, 'depth': 5}]
>>> metric_mode("val_loss"), metric_mode("r2"), metric_mode("latency_p95_ms")
('min', 'max', 'min')
"""

from __future__ import annotations

import contextlib
import fnmatch
import hashlib
import itertools
import json
import logging
import os
import re
import resource
import socket
import time
import traceback
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psutil

from registry.connection import RedisClient, ReadBatch, redis_errors
from registry.errors import ExperimentNotFound, RegistryError, RunNotActive, RunNotFound
from registry.keys import EXPERIMENT_ID_RE, experiment_of_run, validate_name
from registry.models import CONDITIONS, Experiment, Run, check_metrics, compare

__all__ = [
    "ExperimentTracker",
    "ActiveRun",
    "ExperimentComparison",
    "GridSearchResult",
    "grid_points",
    "metric_mode",
    "RUN_STATUSES",
]

log = logging.getLogger(__name__)

RUN_STATUSES = ("running", "finished", "failed", "killed")
_END_STATUSES = RUN_STATUSES[1:]
_LOWER_IS_BETTER = re.compile(r"(loss|error|err\b|mae|mse|rmse|mape|smape|latency|_ms$|_s$|seconds|time|perplexity)",
                              re.IGNORECASE)

_RUN_CHECK = """
local status = redis.call('HGET', KEYS[1], 'status')
if not status then return {'error', 'run_not_found'} end
if status ~= 'running' then return {'error', 'not_running', status} end
"""

# KEYS: run, metrics, series_1..n   ARGV: step ('' = next per metric), ts, name_1, value_1, ...
_LOG_METRICS = _RUN_CHECK + """
local step, ts = ARGV[1], ARGV[2]
for i = 3, #KEYS do
  local name, value = ARGV[2 * i - 3], ARGV[2 * i - 2]
  local s = step
  if s == '' then s = tostring(redis.call('LLEN', KEYS[i])) end
  redis.call('RPUSH', KEYS[i], '[' .. s .. ',' .. ts .. ',' .. value .. ']')
  redis.call('HSET', KEYS[2], name, value)
end
redis.call('HSET', KEYS[1], 'updated_at', ts)
return {'ok'}
"""

# KEYS: run, hash   ARGV: field, value, ...  (params / tags)
_LOG_HASH = _RUN_CHECK + """
if #ARGV > 0 then redis.call('HSET', KEYS[2], unpack(ARGV)) end
return {'ok'}
"""

# KEYS: run   ARGV: tag, value, ...  (merged into the run's tags JSON)
_SET_TAGS = _RUN_CHECK + """
local tags = cjson.decode(redis.call('HGET', KEYS[1], 'tags') or '{}')
for i = 1, #ARGV, 2 do tags[ARGV[i]] = ARGV[i + 1] end
local encoded = '{}'
if next(tags) ~= nil then encoded = cjson.encode(tags) end
redis.call('HSET', KEYS[1], 'tags', encoded)
return {'ok'}
"""

# KEYS: run, artifacts   ARGV: json entries
_LOG_ARTIFACTS = _RUN_CHECK + """
for i = 1, #ARGV do redis.call('RPUSH', KEYS[2], ARGV[i]) end
return {'ok'}
"""

# KEYS: run   ARGV: status, end_time, error, resources JSON
_END_RUN = _RUN_CHECK + """
redis.call('HSET', KEYS[1], 'status', ARGV[1], 'end_time', ARGV[2], 'error', ARGV[3], 'resources', ARGV[4])
return {'ok'}
"""

# KEYS: experiment, runs, run, params   ARGV: run_id, start_time, tags JSON, pid, host, param, value, ...
_START_RUN = """
if redis.call('EXISTS', KEYS[1]) == 0 then return {'error', 'experiment_not_found'} end
if redis.call('EXISTS', KEYS[3]) == 1 then return {'error', 'run_exists'} end
redis.call('HSET', KEYS[3], 'run_id', ARGV[1], 'status', 'running', 'start_time', ARGV[2], 'tags', ARGV[3],
           'pid', ARGV[4], 'host', ARGV[5])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
if #ARGV > 5 then redis.call('HSET', KEYS[4], unpack(ARGV, 6)) end
return {'ok'}
"""


def grid_points(space: dict[str, Iterable[Any]]) -> list[dict[str, Any]]:
    """Every point of a hyperparameter grid, in order (last key varies fastest)."""
    if not isinstance(space, dict) or not space:
        raise ValueError(f"space must be a non-empty dict of name -> list of values, got {space!r}")
    names, values = [], []
    for name, options in space.items():
        validate_name("hyperparameter name", name)
        if isinstance(options, (str, bytes)) or not isinstance(options, Iterable):
            raise ValueError(f"space[{name!r}] must be a list of values, got {options!r}")
        options = list(options)
        if not options:
            raise ValueError(f"space[{name!r}] must list at least one value, got []")
        names.append(name)
        values.append(options)
    return [dict(zip(names, combo)) for combo in itertools.product(*values)]


def metric_mode(metric: str) -> str:
    """``'min'`` for metrics that look like losses, errors or durations, else ``'max'``."""
    return "min" if _LOWER_IS_BETTER.search(metric) else "max"


def _check_mode(mode: str) -> str:
    if mode not in ("min", "max"):
        raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
    return mode


def _json(field_name: str, value: Any) -> str:
    try:
        return json.dumps(value, allow_nan=False, separators=(",", ":"), sort_keys=True)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{field_name} must be JSON-serialisable with finite numbers: {exc}") from None


def _str_dict(field_name: str, value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError(f"{field_name} must be a dict of name -> string, got {value!r}")
    out = {}
    for k, v in value.items():
        validate_name(f"{field_name} key", k)
        if not isinstance(v, (str, int, float, bool)):
            raise ValueError(f"{field_name}[{k!r}] must be a string or number, got {v!r}")
        out[k] = str(v)
    return out


def _file_digest(path: Path) -> tuple[int, str]:
    h = hashlib.sha256()
    size = 0
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
            size += len(chunk)
    return size, h.hexdigest()


@dataclass(frozen=True)
class ExperimentComparison:
    """Runs of several experiments side by side, with the best run per metric."""

    experiments: list[Experiment]
    params: list[str]
    metrics: list[str]
    rows: list[dict[str, Any]]  # one per run: experiment, run_id, status, params..., metrics...
    best: dict[str, dict[str, Any]]  # metric -> {run_id, experiment_id, value, mode}

    def to_dict(self) -> dict[str, Any]:
        return {
            "experiments": [e.to_dict() for e in self.experiments],
            "params": self.params,
            "metrics": self.metrics,
            "rows": self.rows,
            "best": self.best,
        }


@dataclass(frozen=True)
class GridSearchResult:
    """Runs created by :meth:`ExperimentTracker.grid_search`, one per grid point."""

    runs: list[Run]
    best: Run | None = None
    metric: str | None = None
    mode: str | None = None
    failed: list[Run] = field(default_factory=list)


class ActiveRun:
    """Handle on a running run (yielded by :meth:`ExperimentTracker.run`)."""

    def __init__(self, tracker: ExperimentTracker, run_id: str, experiment_id: str) -> None:
        self.tracker = tracker
        self.run_id = run_id
        self.experiment_id = experiment_id
        self.ended = False

    def __repr__(self) -> str:
        return f"ActiveRun({self.run_id!r})"

    def log_params(self, params: dict[str, Any]) -> None:
        self.tracker.log_params(self.run_id, params)

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        self.tracker.log_metrics(self.run_id, metrics, step)

    def log_metric(self, name: str, value: float, step: int | None = None) -> None:
        self.tracker.log_metrics(self.run_id, {name: value}, step)

    def log_artifact(self, path_or_uri: str, name: str | None = None, **kwargs: Any) -> dict[str, Any]:
        return self.tracker.log_artifact(self.run_id, path_or_uri, name, **kwargs)

    def log_artifacts(self, paths: Iterable[str]) -> list[dict[str, Any]]:
        return self.tracker.log_artifacts(self.run_id, paths)

    def set_tags(self, tags: dict[str, str]) -> None:
        self.tracker.set_tags(self.run_id, tags)

    def end(self, status: str = "finished", error: str | None = None) -> Run:
        run = self.tracker.end_run(self.run_id, status, error)
        self.ended = True
        return run

    def get(self) -> Run:
        return self.tracker.get_run(self.run_id)


class ExperimentTracker(RedisClient):
    """Experiment tracker on Redis.

    Parameters
    ----------
    url
        ``redis://``, ``rediss://`` or ``unix://`` URL.
    prefix
        Key prefix (shared with the model registry by default).
    timeout_s
        Connect and socket timeout, seconds.
    """

    def __init__(self, url: str, *, prefix: str = "predwatch", timeout_s: float = 5.0) -> None:
        super().__init__(url, prefix=prefix, timeout_s=timeout_s)
        r = self._redis
        self._log_metrics = r.register_script(_LOG_METRICS)
        self._log_hash = r.register_script(_LOG_HASH)
        self._log_artifacts = r.register_script(_LOG_ARTIFACTS)
        self._end_run = r.register_script(_END_RUN)
        self._start_run = r.register_script(_START_RUN)
        self._set_tags = r.register_script(_SET_TAGS)
        self._read = ReadBatch(r)
        self._local: dict[str, tuple[float, float]] = {}  # run_id -> (perf_counter, process_time) at start

    def __repr__(self) -> str:
        return f"ExperimentTracker({self._url!r}, prefix={self.prefix!r})"

    def _errors(self, operation: str):
        return redis_errors(self._url, operation)

    def _run_script(self, script, run_id: str, keys: list[str], args: list[Any], operation: str) -> None:
        with self._errors(operation):
            reply = script(keys=keys, args=args)
        if reply[0] == "ok":
            return
        if reply[1] == "run_not_found":
            raise RunNotFound(run_id)
        if reply[1] == "not_running":
            raise RunNotActive(run_id, reply[2])
        raise RegistryError(f"unexpected reply from the {operation} script: {reply!r}")

    # experiments ------------------------------------------------------------------------------
    def start_experiment(self, name: str, hyperparameters: dict[str, Any] | None = None, description: str = "",
                         tags: dict[str, str] | None = None, *, exist_ok: bool = True) -> Experiment:
        """Create experiment ``name``, or return the existing one of that name (``exist_ok``).

        ``hyperparameters`` describes the experiment (e.g. the search space); per-run values go
        to :meth:`log_params`.  With ``exist_ok=False`` an existing name raises ``ValueError``.
        """
        validate_name("experiment name", name)
        if hyperparameters is not None and not isinstance(hyperparameters, dict):
            raise ValueError(f"hyperparameters must be a dict, got {type(hyperparameters).__name__}")
        if not isinstance(description, str):
            raise ValueError(f"description must be a string, got {description!r}")
        tags = _str_dict("tags", tags)
        hp = _json("hyperparameters", hyperparameters or {})
        with self._errors("start experiment"):
            existing = self._redis.hget(self.keys.experiments, name)
            if existing is None:
                eid = uuid.uuid4().hex[:12]
                created = time.time()
                self._redis.hset(self.keys.experiment(eid), mapping={
                    "experiment_id": eid, "name": name, "description": description, "hyperparameters": hp,
                    "tags": _json("tags", tags), "created_at": repr(created)})
                if self._redis.hsetnx(self.keys.experiments, name, eid):
                    return Experiment(eid, name, description, hyperparameters or {}, tags, created, 0)
                # another client created it first: drop ours, use theirs
                self._redis.delete(self.keys.experiment(eid))
                existing = self._redis.hget(self.keys.experiments, name)
        if not exist_ok:
            raise ValueError(f"experiment name {name!r} is taken (id {existing}); pass exist_ok=True to reuse it")
        return self.get_experiment(existing)

    def _resolve(self, experiment: str) -> str:
        if not isinstance(experiment, str) or not experiment:
            raise ValueError(f"experiment must be an experiment id or name, got {experiment!r}")
        with self._errors("resolve experiment"):
            if EXPERIMENT_ID_RE.match(experiment) and self._redis.exists(self.keys.experiment(experiment)):
                return experiment
            eid = self._redis.hget(self.keys.experiments, experiment)
        if eid is None:
            raise ExperimentNotFound(experiment)
        return eid

    def get_experiment(self, experiment: str) -> Experiment:
        """An experiment by id or name."""
        eid = self._resolve(experiment)
        with self._errors("get experiment"):
            h, count = self._read(("HGETALL", self.keys.experiment(eid)), ("ZCARD", self.keys.runs(eid)))
        if not h:
            raise ExperimentNotFound(experiment)
        return self._experiment(h, count)

    @staticmethod
    def _experiment(h: dict[str, str], count: int) -> Experiment:
        return Experiment(
            experiment_id=h["experiment_id"],
            name=h["name"],
            description=h.get("description", ""),
            hyperparameters=json.loads(h.get("hyperparameters") or "{}"),
            tags=json.loads(h.get("tags") or "{}"),
            created_at=float(h.get("created_at", 0)),
            run_count=count,
        )

    def list_experiments(self) -> list[Experiment]:
        """All experiments, oldest first."""
        with self._errors("list experiments"):
            ids = list(self._redis.hgetall(self.keys.experiments).values())
            pipe = self._redis.pipeline(transaction=False)
            for eid in ids:
                pipe.hgetall(self.keys.experiment(eid))
                pipe.zcard(self.keys.runs(eid))
            replies = pipe.execute()
        out = [self._experiment(h, n) for h, n in zip(replies[::2], replies[1::2]) if h]
        return sorted(out, key=lambda e: (e.created_at, e.name))

    def search_experiments(self, name: str | None = None, *, tags: dict[str, str] | None = None) -> list[Experiment]:
        """Experiments whose name matches the glob ``name`` and whose tags contain ``tags``."""
        tags = _str_dict("tags", tags)
        return [e for e in self.list_experiments()
                if (name is None or fnmatch.fnmatchcase(e.name, name))
                and all(e.tags.get(k) == v for k, v in tags.items())]

    # runs -------------------------------------------------------------------------------------
    def start_run(self, experiment_id_or_name: str, params: dict[str, Any] | None = None,
                  tags: dict[str, str] | None = None) -> Run:
        """Start a run in an experiment (by id or name); status ``running``."""
        tags = _str_dict("tags", tags)
        param_args = self._param_args(params or {})
        eid = self._resolve(experiment_id_or_name)
        run_id = f"{eid}-{uuid.uuid4().hex[:12]}"
        start = time.time()
        with self._errors("start run"):
            reply = self._start_run(
                keys=[self.keys.experiment(eid), self.keys.runs(eid), self.keys.run(run_id),
                      self.keys.run_params(run_id)],
                args=[run_id, repr(start), _json("tags", tags), os.getpid(), socket.gethostname(), *param_args])
        if reply[0] != "ok":
            if reply[1] == "experiment_not_found":
                raise ExperimentNotFound(experiment_id_or_name)
            raise RegistryError(f"could not start a run in {experiment_id_or_name!r}: {reply!r}")
        self._local[run_id] = (time.perf_counter(), time.process_time())
        return Run(run_id=run_id, experiment_id=eid, status="running", start_time=start,
                   params=dict(params or {}), tags=tags)

    @staticmethod
    def _param_args(params: dict[str, Any]) -> list[str]:
        if not isinstance(params, dict):
            raise ValueError(f"params must be a dict of name -> JSON value, got {type(params).__name__}")
        args: list[str] = []
        for k, v in params.items():
            validate_name("param name", k)
            args += [k, _json(f"params[{k!r}]", v)]
        return args

    def log_params(self, run_id: str, params: dict[str, Any]) -> None:
        """Record parameters (JSON values) of a running run; a repeated name is overwritten."""
        args = self._param_args(params)
        self._run_script(self._log_hash, run_id, [self.keys.run(run_id), self.keys.run_params(run_id)], args,
                         "log params")

    def set_tags(self, run_id: str, tags: dict[str, str]) -> None:
        """Add or replace tags of a running run."""
        tags = _str_dict("tags", tags)
        args = [x for kv in tags.items() for x in kv]
        self._run_script(self._set_tags, run_id, [self.keys.run(run_id)], args, "set tags")

    def log_metrics(self, run_id: str, metrics: dict[str, float], step: int | None = None) -> None:
        """Log one point per metric at ``step`` (default: the next step of each metric, from 0)."""
        clean = check_metrics("metrics", metrics)
        if step is not None and (isinstance(step, bool) or not isinstance(step, int) or step < 0):
            raise ValueError(f"step must be a non-negative int or None, got {step!r}")
        if not clean:
            return
        keys = [self.keys.run(run_id), self.keys.run_metrics(run_id)]
        args: list[str] = ["" if step is None else str(step), repr(time.time())]
        for name, value in clean.items():
            keys.append(self.keys.run_series(run_id, name))
            args += [name, repr(value)]
        self._run_script(self._log_metrics, run_id, keys, args, "log metrics")

    def log_metric(self, run_id: str, name: str, value: float, step: int | None = None) -> None:
        """Log one metric point."""
        self.log_metrics(run_id, {name: value}, step)

    def _artifact_entry(self, path_or_uri: str, name: str | None, size: int | None,
                        sha256: str | None) -> dict[str, Any]:
        if not isinstance(path_or_uri, (str, os.PathLike)) or not str(path_or_uri):
            raise ValueError(f"artifact must be a file path or a URI, got {path_or_uri!r}")
        raw = os.fspath(path_or_uri)
        scheme = urlsplit(raw).scheme if "://" in raw else ""
        local: Path | None = None
        if scheme in ("", "file"):
            local = Path(urlsplit(raw).path if scheme == "file" else raw).expanduser()
            if not local.exists():
                raise FileNotFoundError(f"artifact path {raw!r} does not exist (give an existing file or a URI)")
            local = local.resolve()
            if local.is_dir():
                files = sorted(p for p in local.rglob("*") if p.is_file())
                manifest = hashlib.sha256()
                size = 0
                for p in files:
                    s, digest = _file_digest(p)
                    size += s
                    manifest.update(f"{p.relative_to(local).as_posix()}\0{digest}\n".encode())
                sha256 = manifest.hexdigest()
            else:
                size, sha256 = _file_digest(local)
            uri = local.as_uri()
        else:
            uri = raw
            if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 0):
                raise ValueError(f"size must be a non-negative int (bytes), got {size!r}")
            if sha256 is not None and not re.fullmatch(r"[0-9a-f]{64}", str(sha256)):
                raise ValueError(f"sha256 must be 64 lowercase hex characters, got {sha256!r}")
        if name is None:
            name = (local.name if local else Path(urlsplit(raw).path).name) or raw
        if not isinstance(name, str) or not name or len(name) > 256:
            raise ValueError(f"artifact name must be a non-empty string of at most 256 characters, got {name!r}")
        return {"name": name, "uri": uri, "size": size, "sha256": sha256,
                "kind": "directory" if local and local.is_dir() else "file" if local else "uri", "ts": time.time()}

    def log_artifact(self, run_id: str, path_or_uri: str, name: str | None = None, *, size: int | None = None,
                     sha256: str | None = None) -> dict[str, Any]:
        """Record an artifact: a local file or directory (size and sha256 computed) or a URI.

        For a remote URI (``s3://…``, ``https://…``) pass ``size`` and ``sha256`` if known.
        A directory's sha256 is over its manifest (relative path and sha256 of every file).
        """
        entry = self._artifact_entry(path_or_uri, name, size, sha256)
        self._run_script(self._log_artifacts, run_id, [self.keys.run(run_id), self.keys.run_artifacts(run_id)],
                         [_json("artifact", entry)], "log artifact")
        return entry

    def log_artifacts(self, run_id: str, paths: Iterable[str]) -> list[dict[str, Any]]:
        """Record several artifacts in one atomic write."""
        if isinstance(paths, (str, bytes, os.PathLike)):
            raise ValueError(f"paths must be a list of paths or URIs, got a single {type(paths).__name__}")
        entries = [self._artifact_entry(p, None, None, None) for p in paths]
        if entries:
            self._run_script(self._log_artifacts, run_id, [self.keys.run(run_id), self.keys.run_artifacts(run_id)],
                             [_json("artifact", e) for e in entries], "log artifacts")
        return entries

    def _resources(self, run_id: str, start_time: float, end_time: float) -> dict[str, Any]:
        res: dict[str, Any] = {"wall_s": round(end_time - start_time, 6), "cpu_s": None,
                               "peak_rss_bytes": None, "rss_bytes": None}
        local = self._local.pop(run_id, None)
        if local is not None:
            perf0, cpu0 = local
            res["wall_s"] = round(time.perf_counter() - perf0, 6)
            res["cpu_s"] = round(time.process_time() - cpu0, 6)
            res["peak_rss_bytes"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux
            res["rss_bytes"] = psutil.Process().memory_info().rss
        return res

    def end_run(self, run_id: str, status: str = "finished", error: str | None = None) -> Run:
        """End a running run with ``status`` finished, failed or killed, and its resource usage.

        ``error`` (a traceback, a message) is stored with failed and killed runs.
        """
        if status not in _END_STATUSES:
            raise ValueError(f"status must be one of {', '.join(_END_STATUSES)}, got {status!r}")
        if error is not None and not isinstance(error, str):
            raise ValueError(f"error must be a string (e.g. a traceback) or None, got {error!r}")
        key = self.keys.run(run_id)
        with self._errors("end run"):
            start = self._redis.hget(key, "start_time")
        if start is None:
            raise RunNotFound(run_id)
        end = time.time()
        resources = self._resources(run_id, float(start), end)
        self._run_script(self._end_run, run_id, [key],
                         [status, repr(end), (error or "")[-65536:], _json("resources", resources)], "end run")
        return self.get_run(run_id)

    @contextlib.contextmanager
    def run(self, experiment: str, params: dict[str, Any] | None = None,
            tags: dict[str, str] | None = None) -> Iterator[ActiveRun]:
        """``with tracker.run("exp", params) as run:`` — finished on success, failed with the traceback
        on an exception (killed on KeyboardInterrupt); the exception propagates."""
        started = self.start_run(experiment, params, tags)
        handle = ActiveRun(self, started.run_id, started.experiment_id)
        try:
            yield handle
        except BaseException as exc:
            status = "killed" if isinstance(exc, (KeyboardInterrupt, SystemExit)) else "failed"
            if not handle.ended:
                try:
                    self.end_run(handle.run_id, status, traceback.format_exc())
                except Exception:  # noqa: BLE001 - never hide the user's exception behind ours
                    log.exception("could not mark run %s as %s", handle.run_id, status)
            raise
        else:
            if not handle.ended:
                try:
                    self.end_run(handle.run_id, "finished")
                except RunNotActive as exc:  # ended inside the block through tracker.end_run: keep that
                    log.debug("run %s already ended (%s)", handle.run_id, exc.status)

    # reads ------------------------------------------------------------------------------------
    def get_run(self, run_id: str) -> Run:
        """A run with its params, latest metrics and artifacts."""
        experiment_of_run(run_id)
        with self._errors("get run"):
            h, params, metrics, artifacts = self._read(*self._run_reads(run_id))
        if not h:
            raise RunNotFound(run_id)
        return self._build_run(run_id, h, params, metrics, artifacts)

    def _run_reads(self, run_id: str) -> list[tuple]:
        return [("HGETALL", self.keys.run(run_id)), ("HGETALL", self.keys.run_params(run_id)),
                ("HGETALL", self.keys.run_metrics(run_id)), ("LRANGE", self.keys.run_artifacts(run_id), 0, -1)]

    @staticmethod
    def _build_run(run_id: str, h: dict, params: dict, metrics: dict, artifacts: list) -> Run:
        return Run(
            run_id=run_id,
            experiment_id=experiment_of_run(run_id),
            status=h["status"],
            start_time=float(h["start_time"]),
            end_time=float(h["end_time"]) if h.get("end_time") else None,
            params={k: json.loads(v) for k, v in params.items()},
            metrics={k: float(v) for k, v in metrics.items()},
            tags=json.loads(h.get("tags") or "{}"),
            artifacts=[json.loads(a) for a in artifacts],
            error=h.get("error") or None,
            resources=json.loads(h.get("resources") or "{}"),
        )

    def list_runs(self, experiment: str) -> list[Run]:
        """Runs of an experiment (id or name), in start order."""
        eid = self._resolve(experiment)
        with self._errors("list runs"):
            run_ids = self._redis.zrange(self.keys.runs(eid), 0, -1)
            replies: list = []
            for start in range(0, len(run_ids), 500):  # bounded script arguments per call
                replies += self._read(*(cmd for rid in run_ids[start:start + 500] for cmd in self._run_reads(rid)))
        out = []
        for i, rid in enumerate(run_ids):
            h, params, metrics, artifacts = replies[4 * i: 4 * i + 4]
            if h:
                out.append(self._build_run(rid, h, params, metrics, artifacts))
        return out

    def metric_history(self, run_id: str, metric: str) -> list[tuple[int, float, float]]:
        """Every logged point of ``metric``: ``(step, ts, value)`` in logging order."""
        with self._errors("metric history"):
            raw = self._redis.lrange(self.keys.run_series(run_id, metric), 0, -1)
        return [(int(s), float(t), float(v)) for s, t, v in (json.loads(x) for x in raw)]

    def search_runs(self, experiment: str | None = None, *, params: dict[str, Any] | None = None,
                    tags: dict[str, str] | None = None, status: str | None = None,
                    metrics: dict[str, tuple[str, float]] | None = None) -> list[Run]:
        """Runs matching every filter: params equal, tags equal, status, metric conditions.

        ``metrics`` maps a metric to ``(condition, value)``, e.g. ``{"mape": ("<", 0.1)}``; runs
        without that metric do not match.  ``experiment=None`` searches all experiments.
        """
        tags = _str_dict("tags", tags)
        if status is not None and status not in RUN_STATUSES:
            raise ValueError(f"status must be one of {', '.join(RUN_STATUSES)}, got {status!r}")
        for m, rule in (metrics or {}).items():
            if not (isinstance(rule, (tuple, list)) and len(rule) == 2 and rule[0] in CONDITIONS):
                raise ValueError(f"metrics[{m!r}] must be (condition, value) with condition in "
                                 f"{' '.join(CONDITIONS)}, got {rule!r}")
        experiments = [experiment] if experiment is not None else [e.experiment_id for e in self.list_experiments()]
        out = []
        for exp in experiments:
            for run in self.list_runs(exp):
                if status is not None and run.status != status:
                    continue
                if any(run.params.get(k) != v for k, v in (params or {}).items()):
                    continue
                if any(run.tags.get(k) != v for k, v in tags.items()):
                    continue
                if any(m not in run.metrics or not compare(run.metrics[m], c, x)
                       for m, (c, x) in (metrics or {}).items()):
                    continue
                out.append(run)
        return out

    def get_best_run(self, experiment: str, metric: str, mode: str = "min", *,
                     statuses: tuple[str, ...] = ("finished",)) -> Run | None:
        """The run with the lowest (``mode="min"``) or highest latest value of ``metric``.

        Only runs whose status is in ``statuses`` and that logged ``metric`` count; ``None`` if
        none did.  Ties go to the earlier run.
        """
        validate_name("metric name", metric)
        _check_mode(mode)
        runs = [r for r in self.list_runs(experiment) if r.status in statuses and metric in r.metrics]
        if not runs:
            return None
        pick = min if mode == "min" else max
        return pick(runs, key=lambda r: r.metrics[metric])

    def compare_experiments(self, experiments: Iterable[str], *, metrics: Iterable[str] | None = None,
                            modes: dict[str, str] | None = None) -> ExperimentComparison:
        """A table of the runs of ``experiments`` (ids or names) and the best finished run per metric.

        The direction of each metric comes from ``modes`` ({metric: "min" | "max"}), else from
        :func:`metric_mode` (losses, errors and durations: min; everything else: max).
        """
        if isinstance(experiments, str):
            experiments = [experiments]
        exps = [self.get_experiment(e) for e in experiments]
        if not exps:
            raise ValueError("experiments must name at least one experiment id or name, got none")
        modes = {m: _check_mode(v) for m, v in (modes or {}).items()}
        rows, runs, param_names, metric_names = [], [], set(), set()
        for exp in exps:
            for run in self.list_runs(exp.experiment_id):
                runs.append((exp, run))
                param_names.update(run.params)
                metric_names.update(run.metrics)
        if metrics is not None:
            metric_names = set(metrics)
        params_sorted, metrics_sorted = sorted(param_names), sorted(metric_names)
        for exp, run in runs:
            rows.append({"experiment": exp.name, "experiment_id": exp.experiment_id, "run_id": run.run_id,
                         "status": run.status,
                         "params": {p: run.params.get(p) for p in params_sorted},
                         "metrics": {m: run.metrics.get(m) for m in metrics_sorted}})
        best: dict[str, dict[str, Any]] = {}
        for m in metrics_sorted:
            mode = modes.get(m) or metric_mode(m)
            candidates = [(exp, run) for exp, run in runs if run.status == "finished" and m in run.metrics]
            if not candidates:
                continue
            pick = min if mode == "min" else max
            exp, run = pick(candidates, key=lambda er: er[1].metrics[m])
            best[m] = {"run_id": run.run_id, "experiment_id": exp.experiment_id, "experiment": exp.name,
                       "value": run.metrics[m], "mode": mode}
        return ExperimentComparison(exps, params_sorted, metrics_sorted, rows, best)

    # grid search ------------------------------------------------------------------------------
    def grid_search(self, experiment: str, space: dict[str, Iterable[Any]],
                    objective: Callable[[dict[str, Any], ActiveRun], dict[str, float] | None], *,
                    metric: str | None = None, mode: str = "min", tags: dict[str, str] | None = None,
                    stop_on_error: bool = False) -> GridSearchResult:
        """Run ``objective(params, run)`` once per grid point, each in its own run.

        ``objective`` may log through ``run`` and/or return a dict of metrics (logged for it).
        A point that raises becomes a failed run with its traceback and the search goes on
        (unless ``stop_on_error``).  With ``metric``, the best finished run is reported.
        """
        points = grid_points(space)
        if metric is not None:
            validate_name("metric name", metric)
        _check_mode(mode)
        if not callable(objective):
            raise ValueError(f"objective must be callable(params, run) -> dict | None, got {objective!r}")
        runs: list[Run] = []
        failed: list[Run] = []
        for point in points:
            handle = None
            try:
                with self.run(experiment, params=point, tags={**_str_dict("tags", tags), "grid_search": "1"}) as handle:
                    result = objective(dict(point), handle)
                    if result:
                        handle.log_metrics(result)
            except Exception:  # noqa: BLE001 - recorded as a failed run by self.run
                if handle is None or stop_on_error:
                    raise
                log.warning("grid point %s failed; run %s marked failed", point, handle.run_id)
                failed.append(self.get_run(handle.run_id))
                runs.append(failed[-1])
                continue
            runs.append(self.get_run(handle.run_id))
        best = None
        if metric is not None:
            scored = [r for r in runs if r.status == "finished" and metric in r.metrics]
            if scored:
                best = (min if mode == "min" else max)(scored, key=lambda r: r.metrics[metric])
        return GridSearchResult(runs=runs, best=best, metric=metric, mode=mode if metric else None, failed=failed)



"""Drive the `terraform` CLI and turn its machine-readable UI stream into logs and progress.

Why not python-terraform: its last release is from 2019 and it breaks on Terraform 1.x (see the
README's design notes); and it cannot stream `-json` events line by line, which is the point here.
"""

from __future__ import annotations

import contextvars
import hashlib
import json
import logging
import os
import re
import shutil
import subprocess
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

from bootstrap_flows.steps import step
from bootstrap_flows.terraform.failures import (
    LockInfo,
    StateLocked,
    parse_lock_info,
)
from bootstrap_flows.terraform.failures import StalePlan as StalePlan  # where callers find them
from bootstrap_flows.terraform.failures import TerraformError as TerraformError

# The oldest Terraform that runs every stack: the S3 backend's `use_lockfile` (stacks.py), the only
# state lock the stacks have, arrived in 1.10.0 (GA in 1.11); nothing else used is newer than 1.5.
# Every versions.tf `required_version` says the same (tests/unit/terraform/test_versions.py).
MIN_TERRAFORM = (1, 10)
MIN_TERRAFORM_TEXT = ".".join(str(part) for part in MIN_TERRAFORM)

Progress = Callable[[int, int], None]
"""Called as progress(done, total) each time a resource operation finishes."""

# Terraform's actions, as plan events name them, and how a person says them.
_VERBS = {
    "create": "Creating",
    "update": "Updating",
    "delete": "Destroying",
    "replace": "Replacing",
    "read": "Reading",
    "noop": "Checking",
}


@dataclass(frozen=True)
class PlannedChange:
    address: str
    action: str


@dataclass
class PlanResult:
    plan_file: Path
    changes: list[PlannedChange] = field(default_factory=list)
    drift: list[PlannedChange] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def has_changes(self) -> bool:
        return bool(self.changes) or any(self.counts.get(k) for k in ("add", "change", "remove"))

    def table(self) -> list[dict[str, str]]:
        return [{"address": c.address, "action": c.action} for c in self.changes]


def describe_diagnostic(diagnostic: dict[str, Any]) -> str:
    """One readable paragraph for a Terraform diagnostic: summary, where, detail."""
    parts = [diagnostic.get("summary", "error")]
    if diagnostic.get("address"):
        parts.append(f"(resource {diagnostic['address']})")
    where = diagnostic.get("range") or {}
    if where.get("filename"):
        parts.append(f"at {where['filename']}:{where.get('start', {}).get('line', '?')}")
    text = " ".join(parts)
    if diagnostic.get("detail"):
        text += f": {diagnostic['detail'].strip()}"
    return text


def parse_events(lines: Iterable[str]) -> Iterator[dict[str, Any]]:
    """Parse `-json` UI output; lines that are not JSON (rare: crashes) come back as messages."""
    for line in lines:
        line = line.strip()
        if not line:
            continue
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            event = {"type": "text", "@message": line}
        if isinstance(event, dict):
            yield event


class EventStream:
    """Turns UI events into log lines, progress callbacks and a plan/apply summary."""

    def __init__(
        self,
        logger: logging.Logger | logging.LoggerAdapter[Any],
        total: int = 0,
        progress: Progress | None = None,
    ) -> None:
        self.logger = logger
        self.total = total
        self.progress = progress
        self.done = 0
        self.errors: list[str] = []
        self.changes: list[PlannedChange] = []
        self.drift: list[PlannedChange] = []
        self.counts: dict[str, int] = {}
        self.outputs: dict[str, Any] = {}

    def handle(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        hook = event.get("hook") or {}
        address = (hook.get("resource") or {}).get("addr", "")
        if kind == "planned_change":
            change = event["change"]
            self.changes.append(PlannedChange(change["resource"]["addr"], change["action"]))
        elif kind == "resource_drift":
            change = event["change"]
            self.drift.append(PlannedChange(change["resource"]["addr"], change["action"]))
        elif kind == "change_summary":
            self.counts = {k: v for k, v in event["changes"].items() if isinstance(v, int)}
            self.logger.info(event.get("@message", ""))
        elif kind == "apply_start":
            self.logger.info("%s %s ...", _VERBS.get(hook.get("action", ""), "Applying"), address)
        elif kind == "apply_complete":
            seconds = hook.get("elapsed_seconds", 0)
            ident = f" [{hook['id_key']}={hook['id_value']}]" if hook.get("id_value") else ""
            self.logger.info("%s done in %ss%s", address, seconds, ident)
            self._advance()
        elif kind == "apply_errored":
            self.logger.error("%s failed after %ss", address, hook.get("elapsed_seconds", 0))
            self._advance()
        elif kind == "diagnostic":
            diagnostic = event["diagnostic"]
            text = describe_diagnostic(diagnostic)
            if diagnostic.get("severity") == "error":
                self.errors.append(text)
                self.logger.error(text)
            else:
                self.logger.warning(text)
        elif kind == "outputs":
            self.outputs = {k: v.get("value") for k, v in event["outputs"].items()}
        elif kind == "text":
            self.logger.info(event["@message"])
        # refresh_start/refresh_complete/apply_progress/version/log: too chatty for a run log.

    def _advance(self) -> None:
        self.done += 1
        if self.progress:
            self.progress(self.done, max(self.total, self.done))


INIT_STAMP = "bootstrap-init.sha256"  # in the data dir: the fingerprint of its last init


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


# What Terraform's S3 backend logs (core log level INFO) once it holds the state lock.
_LOCKED = re.compile(r"Locked remote state\b.*?\btf_backend\.lock\.id=([0-9a-f-]+)")
_Result = TypeVar("_Result")


class LockKeeper(Protocol):
    """Who holds a stack's state lock, recorded beside it; and a dead holder's lock released."""

    def record(self, lock_id: str, pid: int) -> None:
        """Terraform process `pid`, started by this run, now holds lock `lock_id`."""

    def release_if_dead(self, lock: LockInfo) -> str | None:
        """Release `lock` if its recorded holder is dead: None, else why it was kept."""

    def ended(self) -> None:
        """The command whose lock `record` recorded has ended (however): its record goes,
        unless its lock is still held."""


Adopt = Callable[["Terraform", PlanResult, Callable[[Path], PlanResult]], PlanResult]
"""Given a plan and a way to plan again from another configuration directory, the plan to use
(terraform/adoption.py: one that imports what AWS holds and the state does not record)."""


# Terraform's and the provider's GOGC unless the caller sets one (see Terraform.__init__).
GO_GC_PERCENT = "400"


class Terraform:
    """One root stack in one environment: its own data dir, var file and backend."""

    def __init__(
        self,
        stack_dir: Path,
        work_dir: Path,
        env: dict[str, str] | None = None,
        provider_mirror: Path | None = None,
        logger: logging.Logger | logging.LoggerAdapter[Any] | None = None,
        adopt: Adopt | None = None,
        lock_keeper: LockKeeper | None = None,
    ) -> None:
        if shutil.which("terraform") is None:
            raise TerraformError(
                f"terraform is not on PATH; install Terraform >= {MIN_TERRAFORM_TEXT}"
            )
        self.stack_dir = stack_dir
        self.work_dir = work_dir
        self.adopt = adopt
        self.lock_keeper = lock_keeper
        self.logger = logger or logging.getLogger(__name__)
        work_dir.mkdir(parents=True, exist_ok=True)
        self.env = {
            # Go's collector: Terraform and the AWS provider hold the provider's schema (about
            # 300 MB) and spend a fifth of their CPU collecting at the default 100; at 400 a
            # command takes ~100 MB more and ~20% less CPU (measured: README, Testing). A GOGC
            # of the caller's own wins.
            "GOGC": GO_GC_PERCENT,
            **os.environ,
            **(env or {}),
            "TF_IN_AUTOMATION": "1",
            "TF_INPUT": "0",
            "CHECKPOINT_DISABLE": "1",
            # Keeps `.terraform/` per environment and out of the source tree.
            "TF_DATA_DIR": str(work_dir / ".terraform"),
        }
        cli_config = self.env.get("TF_CLI_CONFIG_FILE")
        if provider_mirror is not None:
            config = work_dir / "terraform.rc"
            config.write_text(
                "provider_installation {\n"
                f'  filesystem_mirror {{\n    path    = "{provider_mirror}"\n'
                '    include = ["registry.terraform.io/*/*"]\n  }\n}\n'
            )
            self.env["TF_CLI_CONFIG_FILE"] = str(config)
        elif cli_config and not Path(cli_config).exists():
            # A dangling CLI config only produces a warning on every command.
            del self.env["TF_CLI_CONFIG_FILE"]

    @property
    def plan_file(self) -> Path:
        return self.work_dir / "stack.tfplan"

    def _args(self, *args: str, config_dir: Path | None = None) -> list[str]:
        return ["terraform", f"-chdir={config_dir or self.stack_dir}", *args]

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            self._args(*args), env=self.env, capture_output=True, text=True, check=False
        )

    def _stream(
        self, stream: EventStream, *args: str, config_dir: Path | None = None, locks: bool = False
    ) -> int:
        """Run a `-json` command, feeding each event to `stream` as it arrives.

        A command that `locks` the state logs, to a file of its own, the lock's ID once it holds
        it; the lock keeper records that ID with the process beside the lock.
        """
        env, log = self.env, self.work_dir / "terraform-lock.log"
        watching = locks and self.lock_keeper is not None
        if watching:
            log.write_text("")
            env = {**env, "TF_LOG_CORE": "INFO", "TF_LOG_PATH": str(log)}
        done, watcher = threading.Event(), None
        command = args[0] if args else "terraform"
        try:
            with subprocess.Popen(
                self._args(*args, config_dir=config_dir),
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                bufsize=1,
            ) as process:
                assert process.stdout is not None and process.stderr is not None
                if watching:
                    # In this run's context: the record names the flow run (Prefect keeps it).
                    watch = contextvars.copy_context().run
                    watcher = threading.Thread(
                        target=watch, args=(self._watch_lock, process, log, done)
                    )
                    watcher.start()
                with step(self.logger, f"terraform {command}: events until its output closed"):
                    for event in parse_events(process.stdout):
                        stream.handle(event)
                with step(self.logger, f"terraform {command}: exit (state lock released)"):
                    stderr = process.stderr.read()
                    code = process.wait()
        finally:
            # However the command ended; it has (Popen's exit waits for the process).
            done.set()
            if watching:
                self._lock_ended(command, watcher)
        if code not in (0, 2) and not stream.errors:
            # Crashes and CLI-level failures print plain text on stderr instead of events.
            stream.errors.extend(line for line in stderr.splitlines() if line.strip())
        return code

    def _lock_ended(self, command: str, watcher: threading.Thread | None) -> None:
        """The lock watcher stopped, then the command's holder record deleted (lock_holder.py)."""
        assert self.lock_keeper is not None
        if watcher is not None and watcher.is_alive():
            with step(self.logger, f"terraform {command}: lock watcher stopped"):
                watcher.join()
        try:
            self.lock_keeper.ended()
        except Exception as exc:
            self.logger.warning("could not delete the record of who held the state lock: %s", exc)

    def _watch_lock(self, process: subprocess.Popen[str], log: Path, done: threading.Event) -> None:
        """Record the lock's ID as soon as Terraform says it holds it (until the command ends)."""
        assert self.lock_keeper is not None
        while not done.wait(0.1):
            found = _LOCKED.search(_read(log))
            if found is None:
                continue
            try:
                self.lock_keeper.record(found.group(1), process.pid)
            except Exception as exc:
                self.logger.warning("could not record who holds the state lock: %s", exc)
            return

    def _unlocked(self, command: Callable[[], _Result]) -> _Result:
        """Run a command that takes the state lock; if a dead holder's lock stops it, the lock
        keeper releases that lock and the command runs once more (a live holder's stays)."""
        try:
            return command()
        except StateLocked as locked:
            if self.lock_keeper is None:
                raise
            kept = self.lock_keeper.release_if_dead(locked.lock)
            if kept is not None:
                raise StateLocked(locked.stack, locked.lock, kept) from None
        return command()

    def _fail(self, what: str, errors: list[str]) -> TerraformError:
        # The same diagnostic repeats once per resource instance; say it once.
        unique = list(dict.fromkeys(errors))
        for error in unique:
            lock = parse_lock_info(error)
            if lock is not None:
                # Terraform's own text only suggests `-lock=false`; say who holds it instead.
                return StateLocked(self.stack_dir.name, lock)
        detail = "\n".join(f"- {e}" for e in unique) or "- (terraform printed no diagnostic)"
        return TerraformError(f"terraform {what} failed for stack {self.stack_dir.name}:\n{detail}")

    def init(self, backend_config: dict[str, str] | None = None) -> None:
        """`terraform init`, unless this data dir was initialised from exactly these inputs.

        An init costs 1.5-2 s (provider checks, backend, modules) and most runs re-run one
        whose inputs did not change; the fingerprint covers everything init reads.
        """
        args = ["init", "-input=false", "-no-color", "-reconfigure"]
        if backend_config is None:
            args.append("-backend=false")
        else:
            args += [f"-backend-config={key}={value}" for key, value in backend_config.items()]
        stamp = self.data_dir / INIT_STAMP
        fingerprint = self._init_fingerprint(args)
        if self._initialised(backend_config is not None) and _read(stamp) == fingerprint:
            self.logger.info("terraform init: %s ready (unchanged since last init)", self.name)
            return
        stamp.unlink(missing_ok=True)
        result = self._run(*args)
        if result.returncode != 0:
            errors = [line for line in result.stderr.splitlines() if line.strip()]
            raise self._fail("init", errors or result.stdout.splitlines()[-20:])
        # Modules are known only now: the fingerprint of a first init lists them from here on.
        stamp.parent.mkdir(parents=True, exist_ok=True)
        stamp.write_text(self._init_fingerprint(args))
        self.logger.info("terraform init: %s ready", self.name)

    @property
    def name(self) -> str:
        return self.stack_dir.name

    @property
    def data_dir(self) -> Path:
        return Path(self.env["TF_DATA_DIR"])

    def _initialised(self, with_backend: bool) -> bool:
        """Does the data dir still hold what init made (providers, backend)?"""
        needs_providers = (self.stack_dir / ".terraform.lock.hcl").is_file()
        if needs_providers and not (self.data_dir / "providers").is_dir():
            return False
        return not with_backend or (self.data_dir / "terraform.tfstate").is_file()

    def _init_fingerprint(self, args: list[str]) -> str:
        """Digest of what init reads: its arguments, the Terraform binary, the CLI config
        (provider mirror), and every file of the stack and of the modules it calls."""
        digest = hashlib.sha256("\0".join(args).encode())
        binary = Path(shutil.which("terraform") or "terraform")
        digest.update(f"{binary}:{binary.stat().st_mtime_ns}".encode())
        digest.update(_read(Path(self.env.get("TF_CLI_CONFIG_FILE", "/nonexistent"))).encode())
        for directory in [self.stack_dir, *self._module_dirs()]:
            for path in sorted(directory.glob("*")):
                if path.is_file() and path.suffix in (".tf", ".json", ".hcl"):
                    digest.update(f"{path}\0".encode() + path.read_bytes())
        return digest.hexdigest()

    def _module_dirs(self) -> list[Path]:
        """The module dirs the last init recorded (a new module call changes a stack file)."""
        try:
            recorded = json.loads((self.data_dir / "modules" / "modules.json").read_text())
        except (OSError, ValueError):
            return []
        dirs = {self.stack_dir / module["Dir"] for module in recorded.get("Modules", [])}
        return sorted(d for d in dirs if d.is_dir())

    def plan(
        self,
        var_file: Path | None = None,
        destroy: bool = False,
        refresh_only: bool = False,
        lock: bool = True,
        targets: Sequence[str] = (),
    ) -> PlanResult:
        args = ["plan", "-json", "-input=false", "-detailed-exitcode", f"-out={self.plan_file}"]
        if var_file is not None:
            args.append(f"-var-file={var_file}")
        if destroy:
            args.append("-destroy")
        if refresh_only:
            args.append("-refresh-only")
        if not lock:
            args.append("-lock=false")
        # Only to leave some resources out on purpose (teardown keeping a database).
        args += [f"-target={address}" for address in targets]
        plan = self._unlocked(lambda: self._plan(args)) if lock else self._plan(args)
        if self.adopt is not None and lock and not (destroy or refresh_only or targets):
            # Only a plan made under the state lock to be applied may take over what a killed
            # apply left in AWS but not in the state (a reader such as drift-check takes no lock).
            with step(self.logger, "plan: adoption check"):
                plan = self.adopt(self, plan, lambda config_dir: self._plan(args, config_dir))
        return plan

    def _plan(self, args: list[str], config_dir: Path | None = None) -> PlanResult:
        stream = EventStream(self.logger)
        code = self._stream(stream, *args, config_dir=config_dir, locks="-lock=false" not in args)
        if code not in (0, 2):
            raise self._fail("plan", stream.errors)
        return PlanResult(self.plan_file, stream.changes, stream.drift, stream.counts)

    def show_json(self, plan_file: Path | None = None) -> dict[str, Any]:
        result = self._run("show", "-json", str(plan_file or self.plan_file))
        if result.returncode != 0:
            raise self._fail("show", result.stderr.splitlines())
        shown: dict[str, Any] = json.loads(result.stdout)
        return shown

    def apply(self, plan: PlanResult, progress: Progress | None = None) -> dict[str, Any]:
        """Apply exactly the saved plan; returns the outputs Terraform reported at the end."""
        return self._unlocked(lambda: self._apply(plan, progress))

    def _apply(self, plan: PlanResult, progress: Progress | None) -> dict[str, Any]:
        stream = EventStream(self.logger, total=len(plan.changes), progress=progress)
        args = ("apply", "-json", "-input=false", str(plan.plan_file))
        if self._stream(stream, *args, locks=True) != 0:
            failure = self._fail("apply", stream.errors)
            if any("Saved plan is stale" in error for error in stream.errors):
                raise StalePlan(str(failure)) from failure
            raise failure
        return stream.outputs

    def output(self) -> dict[str, Any]:
        result = self._run("output", "-json")
        if result.returncode != 0:
            raise self._fail("output", result.stderr.splitlines())
        return {name: value["value"] for name, value in json.loads(result.stdout).items()}

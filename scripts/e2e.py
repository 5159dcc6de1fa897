"""End-to-end test on a real cluster: deploy a stack, release a good and a bad podinfo, tear down.

Usage: PULUMI_CONFIG_PASSPHRASE=... python scripts/e2e.py --context kind-kind [--keep]

Needs the pulumi and kubectl CLIs, PULUMI_CONFIG_PASSPHRASE (or _FILE) for the stack's secrets,
and a reachable kubeconfig context; when one is missing it prints a line starting "SKIP:" and
exits 0, so a CI job without a cluster stays green. Otherwise, one banner per step:
  1. select the stack (default local, created if needed) and point it at --context
  2. `pulumi up`, then wait for Linkerd, Flagger, the load tester and the Canary (Initialized)
  3. release another podinfo version: `canaryctl wait` must exit 0 (promoted)
  4. release with services.podinfo.faults=errors: `canaryctl wait` must exit 1 (rolled back)
  5. `pulumi destroy`, and `pulumi stack rm` if the run created the stack (always, unless --keep)
On a failure it prints Flagger's logs, the canaries, the workload's events, Linkerd's pods and
`linkerd check`, and exits 1. Pulumi.<stack>.yaml is restored at the end, so the run leaves no
change in the checkout. With the stack's own analysis settings (local: a run every 20 s) a run
takes about 15 minutes, most of it installing the platform.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NAMESPACE = "podinfo"
# Real podinfo tags; the good release uses whichever the stack does not run yet.
VERSIONS = ("6.14.0", "6.14.1")
LINKERD_DEPLOYMENTS = ("linkerd-identity", "linkerd-destination", "linkerd-proxy-injector")


class StepFailed(Exception):
    """A step did not end as the test expects; the message says which and how."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--context", required=True, help="kubeconfig context, e.g. kind-kind")
    parser.add_argument("--stack", default="local", help="stack to deploy (default local)")
    parser.add_argument(
        "--interval",
        default="",
        help="canaryInterval for the run (default: the stack's own, 20s for local)",
    )
    parser.add_argument("--keep", action="store_true", help="leave the platform deployed")
    args = parser.parse_args(argv)

    missing = missing_prerequisite(args.context)
    if missing:
        print(f"SKIP: {missing}")
        return 0
    run = Run(args.context, args.stack)
    stack_file = ROOT / f"Pulumi.{args.stack}.yaml"
    saved = stack_file.read_bytes() if stack_file.exists() else None
    try:
        run.test(args.interval)
        print("\nPASS: the good release was promoted and the failing one rolled back")
        return 0
    except StepFailed as failure:
        print(f"\nFAIL: {failure}")
        run.diagnose()
        return 1
    finally:
        if not args.keep:
            run.cleanup()
        # `pulumi config set` wrote to the committed stack file; put it back as it was.
        if saved is not None:
            stack_file.write_bytes(saved)
        elif stack_file.exists():
            stack_file.unlink()


def missing_prerequisite(context: str) -> str | None:
    """Why the test cannot run here, or None. Cheapest checks first: SKIP must be quick."""
    for tool in ("pulumi", "kubectl"):
        if shutil.which(tool) is None:
            return f"the {tool} CLI is not on PATH"
    if not {"PULUMI_CONFIG_PASSPHRASE", "PULUMI_CONFIG_PASSPHRASE_FILE"} & os.environ.keys():
        return "PULUMI_CONFIG_PASSPHRASE is not set (the stack's secrets need it)"
    try:
        probe = subprocess.run(
            ["kubectl", "--context", context, "get", "--raw", "/readyz", "--request-timeout=10s"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return f"context {context} did not answer within 30 s"
    if probe.returncode != 0:
        lines = probe.stderr.strip().splitlines() or ["no answer"]
        return f"context {context} is not reachable: {lines[-1]}"
    return None


class Run:
    """One end-to-end run against `context`, with numbered step banners."""

    STEPS = 5

    def __init__(self, context: str, stack: str) -> None:
        self.context = context
        self.stack = stack
        self.step = 0
        self.created = False

    def test(self, interval: str) -> None:
        self.banner("select the stack and point it at the cluster", numbered=True)
        # A stack this run creates is removed again at the end; an existing one is kept.
        self.created = self.sh_output("pulumi", "stack", "select", self.stack) is None
        self.sh("pulumi", "stack", "select", self.stack, "--create")
        self.config("kubeContext", self.context)
        self.config("services.podinfo.faults", "none", path=True)
        if interval:
            self.config("canaryInterval", interval)
        current = self.sh_output(
            "pulumi", "config", "get", "--path", "services.podinfo.version", "--stack", self.stack
        )
        new_version = next(v for v in VERSIONS if v != (current or VERSIONS[-1]))

        self.banner("deploy the platform", numbered=True)
        self.sh("pulumi", "up", "--yes", "--stack", self.stack)
        for deployment in LINKERD_DEPLOYMENTS:
            self.kubectl(
                "-n", "linkerd", "rollout", "status", f"deploy/{deployment}", "--timeout=5m"
            )
        self.kubectl("-n", "flagger-system", "rollout", "status", "deploy/flagger", "--timeout=5m")
        self.kubectl(
            "-n", NAMESPACE, "rollout", "status", "deploy/flagger-loadtester", "--timeout=5m"
        )
        # Promoted=True once Flagger has initialised the Canary (or promoted a release).
        self.kubectl(
            "-n", NAMESPACE, "wait", "canary/podinfo", "--for=condition=Promoted", "--timeout=10m"
        )
        self.canaryctl("status", "-n", NAMESPACE)

        self.banner(f"release podinfo {new_version}: expect promotion", numbered=True)
        self.config("services.podinfo.version", new_version, path=True)
        self.sh("pulumi", "up", "--yes", "--stack", self.stack)
        self.expect_wait(0, "promoted")

        self.banner("release podinfo with injected errors: expect rollback", numbered=True)
        self.config("services.podinfo.faults", "errors", path=True)
        self.sh("pulumi", "up", "--yes", "--stack", self.stack)
        self.expect_wait(1, "rolled back")

    def cleanup(self) -> None:
        self.step = self.STEPS - 1  # cleanup is the last step however far the test got
        self.banner("clean up: pulumi destroy", numbered=True)
        self.sh("pulumi", "destroy", "--yes", "--stack", self.stack, check=False)
        if self.created:
            # --preserve-config: the stack file is restored from the copy taken at the start.
            self.sh(
                "pulumi",
                "stack",
                "rm",
                "--yes",
                "--preserve-config",
                "--stack",
                self.stack,
                check=False,
            )

    def expect_wait(self, code: int, outcome: str) -> None:
        got = self.canaryctl("wait", "podinfo", "-n", NAMESPACE, check=False)
        if got != code:
            raise StepFailed(f"`canaryctl wait` exited {got}; expected {code} ({outcome})")

    def diagnose(self) -> None:
        self.banner("diagnostics")
        self.kubectl("-n", "flagger-system", "logs", "deploy/flagger", "--tail=200", check=False)
        self.kubectl("get", "canaries", "-A", "-o", "yaml", check=False)
        self.kubectl("-n", NAMESPACE, "get", "events", "--sort-by=.lastTimestamp", check=False)
        self.kubectl("-n", "linkerd", "get", "pods", "-o", "wide", check=False)
        if shutil.which("linkerd"):
            self.sh("linkerd", "check", "--context", self.context, check=False)

    def banner(self, title: str, numbered: bool = False) -> None:
        if numbered:
            self.step += 1
            title = f"[{self.step}/{self.STEPS}] {title}"
        print(f"\n==> {title}", flush=True)

    def config(self, key: str, value: str, path: bool = False) -> None:
        """`pulumi config set`; with `path`, a field inside an object key (services.podinfo...)."""
        where = ("--path",) if path else ()
        self.sh("pulumi", "config", "set", *where, key, value, "--stack", self.stack)

    def kubectl(self, *args: str, check: bool = True) -> int:
        return self.sh("kubectl", "--context", self.context, *args, check=check)

    def canaryctl(self, *args: str, check: bool = True) -> int:
        return self.sh(
            sys.executable, "-m", "canaryctl", *args, "--context", self.context, check=check
        )

    def sh(self, *command: str, check: bool = True) -> int:
        print(f"$ {' '.join(command)}", flush=True)
        code = subprocess.run(command, cwd=ROOT, check=False).returncode
        if check and code != 0:
            raise StepFailed(f"`{' '.join(command)}` exited {code}")
        return code

    def sh_output(self, *command: str) -> str | None:
        result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
        return result.stdout.strip() if result.returncode == 0 else None


if __name__ == "__main__":
    sys.exit(main())

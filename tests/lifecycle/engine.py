"""The Pulumi engine's delete and replace planning: the rules the SDK's mocks never apply.

Read in pulumi/pulumi at master 1b5949891b (2026-08-21, after v3.259.0, with #23818 merged):

- Dependencies (pkg/resource/graph/dependency_graph.go DependenciesOf): a resource depends on its
  provider, its parent, its `dependencies`, and its deletedWith target; a component among its
  dependencies stands for the component's children registered before the resource.
- Delete order (pkg/resource/deploy/step_generator.go ScheduleDeletes): antichains of resources
  none of which depends on another condemned one, executed in reverse: dependents first.
- One delete (pkg/resource/deploy/step.go DeleteStep.Apply), in this order: `protect` (unless
  replacing) is an error; `retainOnDelete`: no provider call; deletedWith target *planned* for
  deletion (isDeletedWith on the set of planned deletes): no provider call; else the provider's
  Delete. Either way the resource leaves the state unless the step failed.
- Failures (pkg/resource/deploy/step_executor.go cancelDueToError): the executor goes on after a
  protect error (deleteProtectedError), and after any error with `--continue-on-error`
  (ContinueOnError); else it stops. Later antichains skip every resource an errored one depends
  on, transitively (deployment_executor.go, erroredDeps via TransitiveDependenciesOf: provider,
  dependencies, deletedWith, parents).
- Preview (DeleteStep.Apply with DryRun): the protect check runs, nothing after it (no provider
  call); the executor and its erroredDeps are the same. `pulumi destroy` stops when the preview
  reports an error (pkg/backend/apply.go PreviewThenPromptThenExecute), unless --skip-preview
  (the Automation API's destroy always skips it).
- Aliases (step_generator.go getOldResource): a registration is matched to an old resource by its
  URN, then by each alias; an aliased old resource is the same resource, never deleted.
- Replacement (step_generator.go continueStepsFromDiff): a protected resource cannot be replaced;
  delete-before-replace deletes, in reverse order, every dependent that must be replaced with it
  (calculateDependentReplacements: its provider or deletedWith target is replaced, or a property
  it takes from a replaced resource forces a replacement) and every resource deletedWith it
  (findDependentCascadeReplacements), then the resource, then creates; create-before-delete
  creates first and deletes the old one after every create and update. A resource whose
  deletedWith target is replaced is replaced itself (diff, step_generator.go ~2910): new in the
  first release after v3.259.0 (changelog/pending/engine-fix-deletedwith-replace-cascade.yaml,
  #23818); before it such resources stayed in the state, deleted with their target.
- `ignore_changes` sends the old input for an ignored path (processIgnoreChanges).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from tests.harness import Registration, Run

# The first Pulumi CLI that replaces what is deletedWith a replaced resource (#23818).
DELETED_WITH_CASCADE = (3, 260, 0)


@dataclass(frozen=True)
class Res:
    """One resource as the engine keeps it in the state."""

    urn: str
    type: str
    name: str
    custom: bool
    parent: str
    provider: str
    """The provider resource's URN ("" for a default provider, which the program never sees)."""
    dependencies: tuple[str, ...]
    deleted_with: str
    protect: bool
    retain_on_delete: bool
    delete_before_replace: bool
    inputs: dict[str, Any] = field(compare=False, hash=False)
    ignore_changes: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()

    @staticmethod
    def of(r: Registration) -> Res:
        return Res(
            urn=r.urn,
            type=r.type,
            name=r.name,
            custom=not r.type.startswith("platform:"),
            parent=r.parent,
            provider=r.provider.rsplit("::", 1)[0] if r.provider else "",
            dependencies=tuple(r.dependencies),
            deleted_with=r.deleted_with,
            protect=r.protect,
            retain_on_delete=r.retain_on_delete,
            delete_before_replace=r.delete_before_replace,
            inputs=r.inputs,
            ignore_changes=tuple(r.ignore_changes),
            aliases=tuple(r.aliases),
        )

    def __str__(self) -> str:
        return f"{self.type} {self.name!r}"


class State:
    """The stack's resources in registration (topological) order."""

    def __init__(self, resources: Iterable[Res]) -> None:
        self.resources = list(resources)
        self.by_urn = {r.urn: r for r in self.resources}
        self.index = {r.urn: i for i, r in enumerate(self.resources)}

    @staticmethod
    def of(run: Run) -> State:
        return State(Res.of(r) for r in run.resources)

    def dependencies_of(self, res: Res) -> set[str]:
        """DependenciesOf: provider, parent, dependencies, deletedWith; a component dependency
        brings its children registered before `res`."""
        found = {u for u in (res.provider, res.parent, res.deleted_with) if u in self.by_urn}
        for urn in res.dependencies:
            if urn not in self.by_urn:
                continue
            found.add(urn)
            if not self.by_urn[urn].custom:
                found |= {
                    c.urn for c in self.children(urn) if self.index[c.urn] < self.index[res.urn]
                }
        return found

    def children(self, urn: str) -> list[Res]:
        """Every resource under `urn`, transitively."""
        found: list[Res] = []
        pending = [urn]
        while pending:
            parent = pending.pop()
            for r in self.resources:
                if r.parent == parent:
                    found.append(r)
                    pending.append(r.urn)
        return found

    def transitive_dependencies(self, urn: str) -> set[str]:
        """TransitiveDependenciesOf: provider, dependencies and deletedWith, and the parents."""
        seen: set[str] = set()
        pending = [urn]
        while pending:
            res = self.by_urn[pending.pop()]
            for dep in (res.provider, res.deleted_with, res.parent, *res.dependencies):
                if dep in self.by_urn and dep not in seen:
                    seen.add(dep)
                    pending.append(dep)
        return seen

    def dependents(self, urn: str) -> list[Res]:
        """Every resource that depends on `urn`, directly or not, in registration order."""
        found: set[str] = set()
        changed = True
        while changed:
            changed = False
            for r in self.resources:
                if r.urn not in found and r.urn != urn:
                    deps = self.dependencies_of(r)
                    if urn in deps or deps & found:
                        found.add(r.urn)
                        changed = True
        return [r for r in self.resources if r.urn in found]


def schedule_deletes(state: State, condemned: Iterable[Res]) -> list[list[Res]]:
    """ScheduleDeletes: antichains, dependents first."""
    left = {r.urn: r for r in condemned}
    chains: list[list[Res]] = []
    while left:
        chain = [r for r in left.values() if not state.dependencies_of(r) & left.keys()]
        assert chain, f"a dependency cycle among {sorted(left)}"
        for r in chain:
            del left[r.urn]
        chains.append(sorted(chain, key=lambda r: state.index[r.urn]))
    return list(reversed(chains))


@dataclass
class Outcome:
    """What one delete step did."""

    res: Res
    action: str
    """"deleted" (the provider deleted it), "skipped" (deletedWith a planned delete), "retained",
    "component", "previewed" (a preview's step past the protect check), "protected" (error,
    resource kept) or "failed" (error, resource kept)."""
    detail: str = ""


@dataclass
class Deletes:
    """The outcome of a destroy (or of an update's deletes)."""

    outcomes: list[Outcome] = field(default_factory=list)
    not_attempted: list[Res] = field(default_factory=list)
    preview_error: str = ""
    """What the preview reports; `pulumi destroy` without --skip-preview stops there, and the
    outcomes are those of `pulumi destroy --skip-preview`."""

    def of(self, action: str) -> list[Res]:
        return [o.res for o in self.outcomes if o.action == action]

    @property
    def left_in_state(self) -> list[Res]:
        return [*self.of("protected"), *self.of("failed"), *self.not_attempted]

    @property
    def errors(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.action in ("protected", "failed")]


ProviderDelete = Callable[[Res], str | None]
"""Runs a provider's Delete; returns an error text, or None when it succeeded."""


def run_deletes(
    state: State,
    condemned: list[Res],
    provider_delete: ProviderDelete,
    replacing: bool | set[str] = False,
    *,
    dry_run: bool = False,
    continue_on_error: bool = False,
) -> Deletes:
    """The delete steps of `condemned` as the engine schedules and executes them; `replacing`:
    all of them, or these URNs, are old instances of replaced resources (no protect check);
    `dry_run`: a preview; `continue_on_error`: `--continue-on-error`."""
    planned = {r.urn for r in condemned}

    def is_replacing(res: Res) -> bool:
        return replacing if isinstance(replacing, bool) else res.urn in replacing

    result = Deletes()
    errored: set[str] = set()
    stopped = False
    for chain in schedule_deletes(state, condemned):
        if stopped:
            result.not_attempted += chain
            continue
        for res in chain:
            if res.urn in errored:
                result.not_attempted.append(res)
                continue
            outcome = _apply(res, planned, provider_delete, is_replacing(res), dry_run)
            result.outcomes.append(outcome)
            if outcome.action in ("protected", "failed"):
                errored |= state.transitive_dependencies(res.urn)
                if outcome.action == "failed" and not continue_on_error:
                    stopped = True  # cancelDueToError: only protect errors are gone past
    result.preview_error = "; ".join(
        f"resource {o.res.urn} cannot be deleted because it is protected"
        for o in result.outcomes
        if o.action == "protected"
    )
    return result


def _apply(
    res: Res,
    planned: set[str],
    provider_delete: ProviderDelete,
    replacing: bool,
    dry_run: bool = False,
) -> Outcome:
    if res.protect and not replacing:
        return Outcome(res, "protected", "cannot be deleted because it is protected")
    if dry_run:
        return Outcome(res, "previewed")
    if res.retain_on_delete:
        return Outcome(res, "retained")
    if res.deleted_with and res.deleted_with in planned:
        return Outcome(res, "skipped", f"deletedWith {res.deleted_with} (planned for deletion)")
    if not res.custom:
        return Outcome(res, "component")
    error = provider_delete(res)
    return Outcome(res, "failed", error) if error else Outcome(res, "deleted")


def destroy(
    state: State, provider_delete: ProviderDelete, *, continue_on_error: bool = False
) -> Deletes:
    """`pulumi destroy`: its preview's error, and what `--skip-preview` would do."""
    preview = run_deletes(state, state.resources, provider_delete, dry_run=True)
    result = run_deletes(
        state, state.resources, provider_delete, continue_on_error=continue_on_error
    )
    result.preview_error = preview.preview_error
    return result


# ---- updates: what `pulumi up` plans between two runs of the program ----


@dataclass
class Step:
    op: str
    """create, update, replace (then "create-replacement"/"delete-replaced"), delete."""
    urn: str
    detail: str = ""


@dataclass
class Plan:
    steps: list[Step] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    deletes: Deletes = field(default_factory=Deletes)

    def ops(self, op: str) -> list[str]:
        return [s.urn for s in self.steps if s.op == op]


ReplaceKeys = Callable[[Res, Res], list[str]]
"""A provider's Diff: the input keys whose change forces a replacement (old, new)."""


def ignoring(old: Res, new: Res) -> Res:
    """processIgnoreChanges: an ignored top-level input takes its old value (nested paths, which
    only the provider's own diff reads, are left to `replace_keys`)."""
    inputs = dict(new.inputs)
    for path in new.ignore_changes:
        if "." in path or "[" in path:
            continue
        if path in old.inputs:
            inputs[path] = old.inputs[path]
        else:
            inputs.pop(path, None)
    return dataclasses.replace(new, inputs=inputs)


def changed_keys(old: Res, new: Res) -> list[str]:
    """Top-level inputs that differ."""
    keys = set(old.inputs) | set(new.inputs)
    return sorted(k for k in keys if old.inputs.get(k) != new.inputs.get(k))


def plan_update(
    old: State,
    new: State,
    replace_keys: ReplaceKeys,
    provider_delete: ProviderDelete,
    cli: tuple[int, int, int] = DELETED_WITH_CASCADE,
    generated: set[str] | frozenset[str] = frozenset(),
) -> Plan:
    """The steps of `pulumi up` from `old` to `new`, creates and updates in registration order,
    replacements as the engine decides them, deletes last. `generated`: resources whose inputs
    differ only because the mocks generate keys and passwords anew on every run (an engine keeps
    them in state)."""
    plan = Plan()
    replaced: set[str] = set()
    dbr_deleted: set[str] = set()
    aliased: set[str] = set()
    for res in new.resources:
        before = old.by_urn.get(res.urn)
        if before is None:
            alias = next((a for a in res.aliases if a in old.by_urn and a not in aliased), "")
            if not alias:
                plan.steps.append(Step("create", res.urn))
                continue
            aliased.add(alias)
            before = old.by_urn[alias]
            plan.steps.append(Step("rename", res.urn, f"from {alias}"))
        if res.urn in dbr_deleted:
            plan.steps.append(Step("create-replacement", res.urn, "deleted before its replacement"))
            continue
        res = ignoring(before, res)
        keys = replace_keys(before, res) if res.custom else []
        cascade = cli >= DELETED_WITH_CASCADE and res.deleted_with in replaced
        if keys or cascade:
            if before.protect and res.protect:
                # Not a preview: the engine bails before any further step (result.BailErrorf).
                plan.errors.append(f"unable to replace resource {res.urn} as it is protected")
                return plan
            replaced.add(res.urn)
            why = ", ".join(keys) if keys else f"deletedWith {res.deleted_with} is replaced"
            if res.delete_before_replace:
                victims = [
                    d
                    for d in old.dependents(res.urn)
                    if d.deleted_with == res.urn
                    or (d.provider and d.provider in replaced | {res.urn})
                    or bool(replace_keys(d, new.by_urn.get(d.urn, d)))
                ]
                victims = [v for v in victims if v.urn not in dbr_deleted]
                if cli < DELETED_WITH_CASCADE:  # before #23818: not cascaded, not replaced
                    victims = [v for v in victims if v.deleted_with != res.urn]
                outcome = run_deletes(old, [*victims, before], provider_delete, replacing=True)
                plan.deletes.outcomes += outcome.outcomes
                dbr_deleted |= {v.urn for v in victims}
                replaced |= {v.urn for v in victims}
                plan.steps.append(Step("delete-before-replace", res.urn, why))
                plan.steps.append(Step("create-replacement", res.urn, why))
            else:
                plan.steps.append(Step("create-replacement", res.urn, why))
                plan.steps.append(Step("delete-replaced (later)", res.urn, why))
            continue
        if res.urn not in generated and changed_keys(before, res):
            plan.steps.append(Step("update", res.urn, ", ".join(changed_keys(before, res))))
    # Deletes last: what the program no longer registers, and the replaced resources' old
    # instances (create-before-delete).
    gone = [r for r in old.resources if r.urn not in new.by_urn and r.urn not in aliased]
    old_replaced = [old.by_urn[s.urn] for s in plan.steps if s.op == "delete-replaced (later)"]
    outcome = run_deletes(
        old, [*gone, *old_replaced], provider_delete, replacing={r.urn for r in old_replaced}
    )
    plan.deletes.outcomes += outcome.outcomes
    plan.deletes.not_attempted += outcome.not_attempted
    plan.steps += [Step("delete", r.urn) for r in gone]
    return plan

"""Loading locustfiles: find the files, import them, pick the User and shape classes."""

from __future__ import annotations

import importlib.util
import os
import sys
import traceback
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from loadhopper._exceptions import LocustfileError
from loadhopper.runtime._arrival import ArrivalShape
from loadhopper.runtime._locust_alias import install_locust_alias
from loadhopper.runtime._shape import LoadTestShape
from loadhopper.runtime._sleep_patch import sleep_patch
from loadhopper.stats._settings import reset_report_percentiles
from loadhopper.user import User

__all__ = ["Locustfile", "load_locustfile", "locustfile_paths"]


@dataclass(frozen=True, slots=True)
class Locustfile:
    """What the locustfiles of a run define.

    Attributes:
        user_classes: the runnable User classes, in the order found.
        shape_class: the first LoadTestShape class found, or None.
        modules: the imported modules, one per file.
        thresholds: the modules' `thresholds = ["p95<200", ...]` lists, in file order
            (unparsed; the command line's `--threshold`s are added to them).
        arrival_shape: the first ArrivalShape class found (staged arrival rates), or None.
    """

    user_classes: tuple[type[User], ...]
    shape_class: type[LoadTestShape] | None
    modules: tuple[ModuleType, ...]
    thresholds: tuple[str, ...] = ()
    arrival_shape: type[ArrivalShape] | None = None

    @property
    def module(self) -> ModuleType:
        """The first (usually the only) locustfile module."""
        return self.modules[0]


def locustfile_paths(paths: str | Sequence[str]) -> list[Path]:
    """The files named by `-f`: files, comma lists, directories, module names.

    A directory contributes every `.py` file under it, recursively, except names starting
    with `_`. A name without `.py` that is not a file is tried with `.py`, then as an
    importable module name.

    Raises:
        LocustfileError: a name does not lead to a file.
    """
    names = [paths] if isinstance(paths, str) else list(paths)
    found: list[Path] = []
    for name in (part.strip() for entry in names for part in entry.split(",")):
        if not name:
            continue
        found.extend(_resolve(name))
    if not found:
        raise LocustfileError("no locustfile given; pass one with -f, e.g. -f locustfile.py")
    return found


def _resolve(name: str) -> list[Path]:
    path = Path(name)
    if path.is_dir():
        files = sorted(
            p
            for p in path.rglob("*.py")
            if not any(part.startswith("_") for part in p.relative_to(path).parts)
        )
        if not files:
            raise LocustfileError(f"{name} is a directory with no locustfile (.py) in it")
        return files
    if path.is_file():
        return [path]
    if not name.endswith(".py"):
        with_suffix = Path(name + ".py")
        if with_suffix.is_file():
            return [with_suffix]
        origin = _module_origin(name)
        if origin is not None:
            return [origin]
    raise LocustfileError(f"{name} does not exist")


def _module_origin(name: str) -> Path | None:
    if not all(part.isidentifier() for part in name.split(".")):
        return None
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    if spec is None or spec.origin is None or not spec.origin.endswith(".py"):
        return None
    return Path(spec.origin)


def load_locustfile(paths: str | Sequence[str], *, class_names: Iterable[str] = ()) -> Locustfile:
    """Import the locustfiles and collect their User classes (and shape class).

    The `locust` (and `gevent`) import alias is installed first, so `from locust import
    ...` works. The files are imported with `time.sleep` patched (see `_sleep_patch.py`), so
    that a `from time import sleep` among them binds the sleep that pauses only its user;
    outside a user it is the real sleep, so module-level code sleeps as usual. The
    `PERCENTILES_TO_REPORT` setting is put back to Locust's default first, so that only
    these files' own assignment of `locust.stats.PERCENTILES_TO_REPORT` counts.

    Args:
        paths: what `-f` was given: a file, a comma list, a directory, a module name.
        class_names: run only these User classes (the positional `UserClass ...` args).

    Raises:
        LocustfileError: a file is missing or fails to import, there is no User class, or
            a named class is not defined.
    """
    files = locustfile_paths(paths)
    install_locust_alias()
    reset_report_percentiles()
    with sleep_patch():
        modules = tuple(_import(path) for path in files)
    shown = ", ".join(str(p) for p in files)
    users: dict[type[User], None] = {}  # ordered, without duplicates
    shape: type[LoadTestShape] | None = None
    arrival: type[ArrivalShape] | None = None
    for module in modules:
        for value in vars(module).values():
            if not isinstance(value, type):
                continue
            if issubclass(value, User) and not value.abstract:
                users[value] = None
            elif issubclass(value, LoadTestShape) and not value.abstract and shape is None:
                shape = value
            elif issubclass(value, ArrivalShape) and not value.abstract and arrival is None:
                arrival = value
    if not users:
        raise LocustfileError(
            f"{shown} defines no User class (a class that subclasses User, HttpUser or "
            "FastHttpUser and is not abstract)"
        )
    selected = list(users)
    wanted = list(class_names)
    if wanted:
        by_name = {cls.__name__: cls for cls in selected}
        for name in wanted:
            if name not in by_name:
                found = ", ".join(by_name)
                raise LocustfileError(f"no User class named {name!r} in {shown} (found: {found})")
        selected = [by_name[name] for name in dict.fromkeys(wanted)]
    return Locustfile(
        tuple(selected),
        shape,
        modules,
        thresholds=_declared_thresholds(modules),
        arrival_shape=arrival,
    )


def _declared_thresholds(modules: Sequence[ModuleType]) -> tuple[str, ...]:
    """The module-level `thresholds` declarations (a list or tuple of strings)."""
    found: list[str] = []
    for module in modules:
        declared = vars(module).get("thresholds")
        if declared is None:
            continue
        if isinstance(declared, str):
            declared = [declared]
        if not isinstance(declared, list | tuple) or not all(
            isinstance(item, str) for item in declared
        ):
            raise LocustfileError(
                f"{module.__file__}: `thresholds` must be a list of strings such as "
                f'["p95<200", "fail_ratio<0.01"], not {declared!r}'
            )
        found.extend(declared)
    return tuple(found)


def _import(path: Path) -> ModuleType:
    """Import one file as a module named after it, its directory first on sys.path."""
    directory = str(path.resolve().parent)
    if directory not in sys.path:
        # As Locust does: a locustfile may import helper modules that sit beside it.
        sys.path.insert(0, directory)
    module_name = path.stem
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise LocustfileError(f"{path} cannot be imported as Python; give a .py file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # dataclasses and pickling look modules up here
    try:
        spec.loader.exec_module(module)
    except BaseException as exc:
        sys.modules.pop(module_name, None)
        if isinstance(exc, KeyboardInterrupt):
            raise
        line = _error_line(exc, path)
        where = f"line {line}: " if line is not None else ""
        detail = f"{type(exc).__name__}: {exc}"
        if isinstance(exc, SyntaxError):
            detail = f"SyntaxError: {exc.msg}"
        raise LocustfileError(f"{path} failed to import: {where}{detail}") from exc
    return module


def _error_line(exc: BaseException, path: Path) -> int | None:
    if isinstance(exc, SyntaxError) and exc.filename and _same_file(exc.filename, path):
        return exc.lineno
    lines = [
        frame.lineno
        for frame in traceback.extract_tb(exc.__traceback__)
        if _same_file(frame.filename, path)
    ]
    return lines[-1] if lines else None


def _same_file(filename: str, path: Path) -> bool:
    try:
        return os.path.samefile(filename, path)
    except OSError:
        return False

import importlib
import subprocess
import sys

import pytest

import loadhopper
from loadhopper.runtime import install_locust_alias, uninstall_locust_alias
from loadhopper.runtime._locust_alias import ALIASED_MODULES

pytestmark = pytest.mark.usefixtures("clean_locust_modules")


def test_importing_loadhopper_installs_nothing() -> None:
    code = (
        "import sys, asyncio, loadhopper\n"
        "assert not any(m == 'locust' or m.startswith('locust.') for m in sys.modules)\n"
        "assert 'gevent' not in sys.modules\n"
        "assert asyncio.events._get_running_loop() is None\n"
        "print('clean')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=60
    )
    assert result.stdout.strip() == "clean", result.stderr


def test_every_aliased_module_resolves_to_a_shim() -> None:
    previous = install_locust_alias()
    try:
        for name in ALIASED_MODULES:
            module = importlib.import_module(name)
            assert module.__name__.startswith("loadhopper._locust"), name
        from locust import HttpUser, events, task
        from locust.contrib.fasthttp import FastHttpUser
        from locust.env import Environment
        from locust.exception import InterruptTaskSet, StopUser
        from locust.runners import STATE_STOPPED, LocalRunner
        from locust.user.wait_time import between

        assert HttpUser is loadhopper.HttpUser and FastHttpUser is loadhopper.FastHttpUser
        assert task is loadhopper.task and between is loadhopper.between
        assert events is loadhopper.events
        assert StopUser is loadhopper.StopUser and InterruptTaskSet is loadhopper.InterruptTaskSet
        assert Environment.__module__ == "loadhopper.runtime._environment"
        assert LocalRunner.__module__ == "loadhopper.runtime._runner"
        assert STATE_STOPPED.value == "stopped"
    finally:
        uninstall_locust_alias(previous)


def test_uninstall_restores_what_was_there() -> None:
    sys.modules.pop("locust", None)
    previous = install_locust_alias()
    uninstall_locust_alias(previous)
    assert "locust" not in sys.modules


def test_an_unknown_locust_submodule_fails_clearly() -> None:
    previous = install_locust_alias()
    try:
        with pytest.raises(ModuleNotFoundError):
            importlib.import_module("locust.contrib.mqtt")
    finally:
        uninstall_locust_alias(previous)

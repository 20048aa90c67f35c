"""Shared helpers for the pytest suite: run the installed `finetune-course` command."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent


def run(args, env=None, timeout=600, **kwargs):
    "Run a command with this environment's bin first on PATH; return the CompletedProcess"
    full_env = {**os.environ, 'PATH': f"{BIN}{os.pathsep}{os.environ['PATH']}",
                'PYTHONWARNINGS': 'ignore', **(env or {})}
    return subprocess.run(args, env=full_env, capture_output=True, text=True, timeout=timeout,
                          **kwargs)


def can_cut_network():
    "True if `unshare -n` works here (it needs root or user namespaces)"
    return shutil.which('unshare') is not None and run(['unshare', '-n', 'true']).returncode == 0


offline = pytest.mark.skipif(not can_cut_network(), reason="`unshare -n` is not permitted here")


@pytest.fixture
def cache(tmp_path):
    "Empty weight caches, so a test sees only what it puts there"
    return {'FINETUNE_COURSE_WEIGHTS': str(tmp_path/'weights'), 'TORCH_HOME': str(tmp_path/'torch'),
            'HF_HOME': str(tmp_path/'hf')}


# The browser tests: Debian's Chromium driven by Playwright (no browser download). The dev
# environment must have both (the Makefile sets FINETUNE_COURSE_REQUIRE_BROWSER=1 there); elsewhere,
# e.g. in .venv-latest with only the installed package, the tests skip.
REQUIRE_BROWSER = os.environ.get('FINETUNE_COURSE_REQUIRE_BROWSER') == '1'
CHROMIUM = Path('/usr/bin/chromium')
CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking',
                 '--disable-component-update', '--disable-sync', '--no-first-run']


@pytest.fixture(scope='session')
def browser():
    "One Chromium for the whole session: Playwright's sync API runs one instance per thread"
    if not REQUIRE_BROWSER: pytest.importorskip('playwright.sync_api')
    from playwright.sync_api import sync_playwright
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} not found: `make browser` installs Debian's chromium"
        if REQUIRE_BROWSER: pytest.fail(message)
        pytest.skip(message)
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope='session')
def model_dir(tmp_path_factory):
    "A tiny emotions model, trained for one epoch and exported through the safe route"
    from fastai.callback.schedule import fit_one_cycle  # noqa: F401 (adds Learner.fit_one_cycle)
    from fastai.torch_core import set_seed
    from finetune_course.data import folder_dls
    from finetune_course.datasets import course_data
    from finetune_course.export import export_model
    from finetune_course.learner import course_learner
    from finetune_course.testing import few
    tmp = tmp_path_factory.mktemp('model')
    set_seed(42)
    train = few(course_data('emotions')/'train', tmp/'train', 8)
    learn = course_learner(folder_dls(train, size=64))
    with learn.no_bar(), learn.no_logging(): learn.fit_one_cycle(1, 1e-2)
    return export_model(learn, tmp/'model')

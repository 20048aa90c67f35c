"""The Gradio app in a real headless browser: the label shown is the library's own prediction, and
bad uploads give a message that stays in the page while the app keeps serving."""
import os
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from conftest import offline, run

# The dev environment must have everything (the Makefile sets this); elsewhere, e.g. in
# .venv-latest with only the installed package, the module skips when Gradio/Playwright are absent.
REQUIRED = os.environ.get('FINETUNE_COURSE_REQUIRE_BROWSER') == '1'
if not REQUIRED:
    pytest.importorskip('gradio')
    pytest.importorskip('playwright.sync_api')

WAIT_MS = 60_000  # generous: the machine may be busy with other tests


@pytest.fixture(scope='session')
def model(model_dir):
    from finetune_course.export import load_model
    return load_model(model_dir)


@pytest.fixture(scope='session')
def test_images():
    from finetune_course.datasets import course_data
    test = course_data('emotions')/'test'
    return [sorted((test/c).iterdir())[0] for c in sorted(p.name for p in test.iterdir())]


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


@pytest.fixture(scope='session')
def server(model_dir, tmp_path_factory):
    "The app, started as `finetune-course app` would start it, on a free loopback port"
    port = free_port()
    log = (tmp_path_factory.mktemp('server')/'server.log').open('w')
    start = time.time()
    proc = subprocess.Popen([sys.executable, '-c', 'import sys; from finetune_course.app import '
                             'serve; serve(sys.argv[1], port=int(sys.argv[2]))', str(model_dir),
                             str(port)], stdout=log, stderr=subprocess.STDOUT,
                            env={**os.environ, 'GRADIO_ANALYTICS_ENABLED': 'False'})
    url = f'http://127.0.0.1:{port}/'
    while True:
        try:
            urllib.request.urlopen(url, timeout=2)
            break
        except OSError:
            if proc.poll() is not None or time.time() - start > 180:
                proc.kill()
                pytest.fail(f"The app did not start: see {log.name}")
            time.sleep(0.5)
    print(f"app answered after {time.time() - start:.1f} s")
    yield url
    proc.terminate()
    proc.wait(timeout=30)
    log.close()


@pytest.fixture
def page(browser, server):
    "A fresh page on the app, recording every host it sends a request to"
    page = browser.new_page(viewport={'width': 1280, 'height': 800})
    page.hosts = set()
    page.on('request', lambda r: page.hosts.add(r.url.split('/')[2]))
    page.goto(server)
    page.wait_for_selector('input[type=file]', state='attached', timeout=WAIT_MS)
    yield page
    page.close()


LABEL, TOAST = '[data-testid=label-output-value]', '[data-testid=toast-body]'


def upload(page, path):
    "Remove the file shown (and any message), then upload `path`"
    remove = page.query_selector('button[aria-label="Clear"]')
    if remove: remove.click()
    page.wait_for_selector(LABEL, state='detached', timeout=WAIT_MS)
    page.set_input_files('input[type=file]', str(path))


def shown_label(page, path):
    upload(page, path)
    return page.wait_for_selector(LABEL, timeout=WAIT_MS).inner_text().strip()


def test_upload_shows_the_library_prediction(page, model, test_images, tmp_path):
    start = time.time()
    for path in test_images[:3]:
        pred = model.predict(path)
        assert shown_label(page, path) == pred.label, path.name
        bar = page.wait_for_selector(f'[data-testid="{pred.label}-confidence-set"]')
        assert f'{round(pred.probs[pred.label] * 100)}%' in bar.inner_text()
    page.screenshot(path=tmp_path/'app.png', full_page=True)
    print(f"3 uploads answered in {time.time() - start:.1f} s; screenshot {tmp_path/'app.png'}")
    assert (tmp_path/'app.png').read_bytes()[:4] == b'\x89PNG'
    assert page.hosts == {page.url.split('/')[2]}, page.hosts  # nothing but the app itself


def test_example_is_one_click_away(page, model):
    from finetune_course.app import example_images
    first = example_images(model.classes)[0]
    page.click('button.gallery-item >> nth=0', timeout=WAIT_MS)
    label = page.wait_for_selector(LABEL, timeout=WAIT_MS).inner_text().strip()
    assert label == model.predict(first).label


REFUSAL = '#refusal'  # where the page says why it cannot classify an upload


def test_bad_uploads_give_a_message_and_the_app_keeps_serving(page, model, test_images,
                                                              tmp_path):
    from PIL import Image
    (tmp_path/'notes.txt').write_text('not an image\n')
    (tmp_path/'empty.png').write_bytes(b'')
    (tmp_path/'text.png').write_text('not an image either\n')
    Image.new('1', (7000, 7000), 1).save(tmp_path/'huge.png')  # 49 Mpx in 30 KB
    # every file reaches the server (the browser refuses none): the reason is shown beneath the
    # (empty) classes and stays, with no toast, no error badge and no broken image
    expected = {'notes.txt': 'notes.txt is not an image file Pillow can read',
                'empty.png': 'empty.png is empty (0 bytes)',
                'text.png': 'text.png is not an image file Pillow can read',
                'huge.png': 'huge.png has 49,000,000 pixels (7000x7000), more than the 40,000,000 '
                            'allowed: shrink it first'}
    for name, message in expected.items():
        upload(page, tmp_path/name)
        page.wait_for_function(f"document.querySelector('{REFUSAL}').innerText.includes({name!r})",
                               timeout=WAIT_MS)
        shown = page.inner_text(REFUSAL)
        assert message in shown, shown
        assert str(tmp_path) not in shown  # the server's temporary paths stay hidden
        assert not page.query_selector(LABEL)  # no classes shown for it
        assert not page.query_selector_all('img')  # no image, broken or not
        assert not page.query_selector_all(TOAST)
        assert not page.query_selector_all('.error')  # Gradio's red badge of a failed call
        page.screenshot(path=tmp_path/f'message-{name}.png')
    page.wait_for_timeout(11_000)  # longer than a toast stays
    assert expected['huge.png'] in page.inner_text(REFUSAL)
    good = test_images[-1]
    assert shown_label(page, good) == model.predict(good).label
    assert page.query_selector('img')  # the image the model reads
    assert page.inner_text(REFUSAL).strip() == ''  # the next image's answer replaces the reason


@pytest.mark.parametrize('side', [12000, 14000, 20000])
def test_too_large_image_gets_its_size_the_limit_and_shrink_it(server, tmp_path, side):
    """Past our limit (12000x12000), past Pillow's (14000x14000, where Pillow speaks of a
    "decompression bomb"), and far past it: one plain message, classes none"""
    from gradio_client import Client, handle_file
    from PIL import Image
    big = tmp_path/'big.png'
    Image.new('1', (side, side)).save(big)  # a few hundred Mpx in a small file
    assert big.stat().st_size < 2_000_000
    shown, image, why = Client(server, verbose=False).predict(handle_file(str(big)),
                                                              api_name='/classify')
    assert (shown, image) == ({}, None), shown
    dims = f' ({side}x{side})' if side < 14000 else ''  # past Pillow's limit it gives no sides
    assert why == (f'big.png has {side * side:,} pixels{dims}, more than the 40,000,000 allowed: '
                   'shrink it first (a classifier looks at a few hundred pixels a side).'), why


def test_loads_only_the_safe_export(tmp_path):
    from finetune_course.app import make_app
    from finetune_course.core import CourseError
    (tmp_path/'model.pkl').write_bytes(b'pickled')
    with pytest.raises(CourseError, match='not a model folder'): make_app(tmp_path/'model.pkl')
    with pytest.raises(CourseError, match='config.json is missing'): make_app(tmp_path)


@offline
def test_app_serves_with_the_network_cut(model_dir, test_images, model):
    script = ("import sys; from gradio_client import Client, handle_file;"
              "from finetune_course.app import serve;"
              "app = serve(sys.argv[1], port=7861, block=False);"
              "shown = Client('http://127.0.0.1:7861/', verbose=False).predict("
              "handle_file(sys.argv[2]), api_name='/classify'); print('LABEL', shown[0]['label'])")
    result = run(['unshare', '-n', 'sh', '-c', 'ip link set lo up && "$0" "$@"', sys.executable,
                  '-c', script, str(model_dir), str(test_images[0])])
    assert result.returncode == 0, result.stderr[-2000:]
    assert f'LABEL {model.predict(test_images[0]).label}' in result.stdout

"""The course website: `tools/build_docs.py` builds it with the network cut, every internal link
and anchor resolves, and a real headless browser (Debian's Chromium, driven by Playwright) reads
index -> each lesson -> each API page with their headings, images and tables; at a phone's and a
desktop's width every figure keeps its shape and no page is wider than the window."""
import functools
import importlib
import inspect
import json
import os
import re
import sys
import threading
from html.parser import HTMLParser
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

from conftest import can_cut_network, run

# `make test` sets this: there the docs tools and the browser must be present, so that a missing
# one fails the run instead of skipping it. The installed-wheel run (`make latest`) skips.
REQUIRED = os.environ.get('FINETUNE_COURSE_REQUIRE_BROWSER') == '1'


def _need(module):
    "Import `module`; without it skip, or fail where the test is required"
    if not REQUIRED: return pytest.importorskip(module)
    try: return importlib.import_module(module)
    except ImportError as e:
        raise ImportError(f"{e}: the docs test needs requirements-dev.txt's docs tools") from e


_need('jupyter_book')
_need('playwright.sync_api')

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT/'tools'))
import build_docs  # noqa: E402  (tools/ is not a package)


@pytest.fixture(scope='session')
def site(tmp_path_factory):
    "The site built once by `tools/build_docs.py` (what `make docs` runs), with no network"
    tmp = tmp_path_factory.mktemp('docs')
    (tmp/'pages.json').write_text(json.dumps([(p, str(nb)) for p, nb in sidebar_pages()]))
    _modules()  # import the library now, as it is when the build reads the notebooks
    cmd = [sys.executable, str(ROOT/'tools'/'build_docs.py'), '--out', str(tmp/'site'),
           '--work', str(tmp/'work')]
    result = run((['unshare', '-n'] if can_cut_network() else []) + cmd, timeout=1200)
    assert result.returncode == 0, result.stdout + result.stderr
    print(result.stdout + result.stderr)
    return tmp


def sidebar_pages():
    "(page, notebook) of every page in `_quarto.yml`'s sidebar order"
    nbs = [build_docs.NBS/p for _, ps in build_docs.sidebar() for p in ps]
    return [(build_docs.page_name(nb.relative_to(build_docs.NBS)).as_posix(), nb) for nb in nbs]


def built_pages(site):
    "`sidebar_pages()` as they were when the site was built (others may add notebooks meanwhile)"
    return [(p, Path(nb)) for p, nb in json.loads((site/'pages.json').read_text())]


# --- every internal link and anchor ---------------------------------------------------------

class Page(HTMLParser):
    "The ids, links and loaded resources of one HTML page"
    def __init__(self, text):
        super().__init__()
        self.ids, self.links, self.loads = set(), [], []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        for key in ('id', 'name'):
            if a.get(key): self.ids.add(a[key])
        url = a.get('href') if tag in ('a', 'link', 'area') else a.get('src')
        if not url: return
        self.links.append(url)
        if tag != 'a' and (tag != 'link' or 'stylesheet' in (a.get('rel') or '')
                           or 'icon' in (a.get('rel') or '')):
            self.loads.append(url)


def _external(url): return bool(urlsplit(url).scheme) or url.startswith('//')


def test_site_has_every_page_in_sidebar_order(site):
    html = site/'site'
    pages = built_pages(site)
    assert pages[0][0] == 'index', "the index comes first"
    for page, _ in pages: assert (html/f'{page}.html').is_file(), page
    print(f"{len(pages)} pages")


def test_internal_links_and_anchors_resolve(site):
    html = site/'site'
    files = [f for f in html.rglob('*.html') if not f.relative_to(html).parts[0].startswith('_')]
    parsed = {f: Page(f.read_text()) for f in files}
    broken, external_loads = [], []
    for f, page in parsed.items():
        for url in page.links:
            if url.startswith(('mailto:', 'javascript:', 'data:')) or _external(url): continue
            parts = urlsplit(url)
            target = (f.parent/unquote(parts.path)).resolve() if parts.path else f
            if target.is_dir(): target = target/'index.html'
            where = f'{f.relative_to(html)}: {url}'
            if not target.is_file(): broken.append(f'{where} (no such file)')
            elif parts.fragment and target.suffix == '.html':
                ids = parsed[target].ids if target in parsed else Page(target.read_text()).ids
                if parts.fragment not in ids: broken.append(f'{where} (no such anchor)')
        external_loads += [f'{f.relative_to(html)}: {u}' for u in page.loads if _external(u)]
    assert not broken, '\n'.join(broken)
    assert not external_loads, "pages load from other hosts:\n" + '\n'.join(external_loads)
    assert sum(len(p.links) for p in parsed.values()) > 100


def test_readme_links_work_on_the_site(site):
    "README.md links lessons as nbs/lessons/NN_topic.ipynb, for GitHub; the site's index too"
    readme_links = re.findall(r'\]\((nbs/[^)#]+\.ipynb)', (ROOT/'README.md').read_text())
    assert readme_links
    index = Page((site/'site'/'index.html').read_text())
    for link in readme_links:
        page = build_docs.page_name(Path(link).relative_to('nbs')).as_posix()
        assert f'{page}.html' in index.links, link


# --- a real browser ------------------------------------------------------------------------

@pytest.fixture(scope='session')
def server(site):
    "The site served over loopback HTTP, as a learner's browser would see it"
    handler = functools.partial(Quiet, directory=str(site/'site'))
    httpd = ThreadingHTTPServer(('127.0.0.1', 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f'http://127.0.0.1:{httpd.server_address[1]}/'
    httpd.shutdown()
    httpd.server_close()


class Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args): pass


def _expected(nb_path):
    "The title and `##` headings of a notebook's markdown cells"
    nb = json.loads(nb_path.read_text())
    title, headings = None, []
    for cell in nb['cells']:
        if cell['cell_type'] != 'markdown': continue
        text = re.sub(r'^```.*?^```', '', ''.join(cell['source']), flags=re.MULTILINE | re.DOTALL)
        for line in text.splitlines():
            m = re.match(r'^(#{1,2})\s+(.*?)\s*$', line)
            if not m: continue
            text = _plain(re.sub(r'\[([^\]]*)\]\([^)]*\)', r'\1', m[2]).replace('`', ''))
            if m[1] == '#' and title is None: title = text
            elif m[1] == '##': headings.append(text)
    return title, headings


def _plain(text):
    "`text` with Sphinx's typographic quotes made plain again"
    return text.translate(str.maketrans({'’': "'", '‘': "'", '“': '"', '”': '"'}))


def _shown(prepared):
    "Numbers of code cells, image outputs and table outputs that a prepared notebook shows"
    codes = images = tables = 0
    for cell in json.loads(prepared.read_text())['cells']:
        if cell['cell_type'] != 'code': continue
        tags = cell.get('metadata', {}).get('tags', [])
        codes += 'remove-input' not in tags and bool(''.join(cell['source']).strip())
        if 'remove-output' in tags: continue
        for out in cell.get('outputs', []):
            data = out.get('data', {})
            images += any(k.startswith('image/') for k in data)
            tables += '<table' in ''.join(data.get('text/html', ''))
    return codes, images, tables


# What Chromium itself logs about the site that is not the site's fault, with the reason:
IGNORED_CONSOLE = [
    # none needed so far: every console error of a page fails the test
]

PAGE_FACTS = """() => {
  const main = document.querySelector('article.bd-article') || document.body;
  const clean = e => e.innerText.replace(/[#¶]\\s*$/, '').trim();
  const rubrics = [...main.querySelectorAll('h3.rubric')].map(h => {
    let sig = '', e = h.nextElementSibling;
    for (; e && !e.matches('h3.rubric'); e = e.nextElementSibling)
      if (e.querySelector('pre')) sig += e.innerText;
    const before = h.previousElementSibling;
    return {id: h.id, anchor: before && before.matches('div[id]') ? before.id : null,
            name: h.innerText.trim(), sig};
  });
  return {
    h1: [...main.querySelectorAll('h1')].map(clean),
    h2: [...main.querySelectorAll('h2')].map(clean),
    images: [...main.querySelectorAll('img')]
              .map(i => ({src: i.src, ok: i.complete && i.naturalWidth > 0})),
    tables: main.querySelectorAll('table').length,
    code: main.querySelectorAll('.cell_input').length,
    sidebar: [...document.querySelectorAll(
                '.bd-sidebar-primary p.caption, .bd-sidebar-primary a.reference')]
               .map(a => a.matches('p') ? '# ' + a.innerText.trim() : a.getAttribute('href')),
    rubrics,
  };
}"""


def _modules():
    "{module name: (module, nbdev's index of its names)} of the library"
    modidx = importlib.import_module('finetune_course._modidx').d['syms']
    return {mod: (importlib.import_module(mod), syms) for mod, syms in modidx.items()}


def _exported(page):
    "{name: (object, anchor)} of the exported functions and classes nbdev's index puts on `page`"
    found = {}
    for mod, (module, syms) in _modules().items():
        for name in getattr(module, '__all__', []):
            obj = getattr(module, name, None)
            where = syms.get(f'{mod}.{name}')
            if where and where[0].split('#')[0] == f'{page}.html' and (
                    inspect.isfunction(obj) or inspect.isclass(obj)):
                found[name] = (obj, f'{mod}.{name}')
    return found


def test_browser_walks_the_site(site, server, browser, tmp_path):
    from fastcore.docments import docments
    shots = tmp_path/'screenshots'
    shots.mkdir()
    page = browser.new_page(viewport={'width': 1280, 'height': 900})
    errors, offsite = [], []
    page.on('console', lambda m: errors.append(f'{page.url}: {m.text}') if m.type == 'error'
            and not any(i in m.text for i in IGNORED_CONSOLE) else None)
    page.on('pageerror', lambda e: errors.append(f'{page.url}: {e}'))
    def only_the_site(route):
        if route.request.url.startswith(server): return route.continue_()
        offsite.append(route.request.url)
        route.abort()
    page.route('**/*', only_the_site)

    page.goto(server + 'index.html', wait_until='load')
    facts = page.evaluate(PAGE_FACTS)
    pages = built_pages(site)
    # The sidebar: the index, then the Lessons shelf, then the API shelf, in _quarto.yml's order
    shelves = [s for s, _ in build_docs.sidebar() if s]
    expected = [f'# {s}' for s in shelves]
    assert [s for s in facts['sidebar'] if s.startswith('# ')] == expected, facts['sidebar']
    links = [s.split('#')[0] for s in facts['sidebar'] if not s.startswith('# ')]
    assert [l.removesuffix('.html') for l in links if l not in ('', 'index.html')] \
        == [p for p, _ in pages[1:]], links

    # index -> first lesson through the README's link, then every page in sidebar order
    lessons = [p for p, nb in pages if nb.parent.name == 'lessons']
    page.click(f'main a[href="{lessons[0]}.html"]')
    page.wait_for_load_state('load')
    assert page.url == server + f'{lessons[0]}.html'

    seen = []
    for name, nb in pages:
        page.goto(server + f'{name}.html', wait_until='load')
        page.wait_for_function("[...document.images].every(i => i.complete)")
        facts = page.evaluate(PAGE_FACTS)
        title, headings = _expected(nb)
        codes, images, tables = _shown(site/'work'/'src'/f'{name}.ipynb')
        assert list(map(_plain, facts['h1'])) == [title], (name, facts['h1'])
        assert list(map(_plain, facts['h2'])) == headings, (name, facts['h2'])
        broken = [i['src'] for i in facts['images'] if not i['ok']]
        assert not broken, (name, broken)
        assert len(facts['images']) >= images, (name, facts['images'])
        assert facts['tables'] >= tables, name
        assert facts['code'] == codes, (name, facts['code'], codes)  # the demos, with the lessons'
        if name.startswith('api/'):
            assert codes >= 1, f"{name}: no demo cells"
            rubrics = {r['name']: r for r in facts['rubrics']}
            for obj_name, (obj, anchor) in _exported(name).items():
                r = rubrics.get(obj_name)
                assert r, f"{name}: no show_doc entry for {obj_name}"
                assert r['anchor'] == anchor, (name, obj_name, r['anchor'])
                assert obj_name in r['sig'], f"{name}: no signature for {obj_name}"
                # show_doc puts a function's docments in its signature (a class's fields it
                # cannot: nbdev shows NamedTuples and dataclasses without them, Quarto or not)
                for param, doc in (docments(obj).items() if inspect.isfunction(obj) else []):
                    if doc and param != 'return':  # (its words may change while others edit)
                        assert re.search(rf'\b{param}\b[^\n]*# \S', r['sig']), (obj_name, param)
        page.screenshot(path=str(shots/f"{name.replace('/', '_')}.png"), full_page=True)
        seen.append((name, facts['code'], len(facts['images']), facts['tables'],
                     len(facts['rubrics'])))
    page.close()
    shown = [(t, i) for n, c, i, t, r in seen if n in lessons]
    assert sum(t for t, _ in shown) and sum(i for _, i in shown), "no table/image in the lessons"
    print('\n'.join(f'{n}: {c} code cells, {i} images, {t} tables, {r} API entries'
                    for n, c, i, t, r in seen))
    print(f'screenshots in {shots}')
    assert not errors, '\n'.join(errors)
    assert not offsite, f"pages asked for other hosts: {offsite}"


# --- what a learner reads: no traceback, machine path, raw link or wall of progress bars ---------

class Reading(HTMLParser):
    "The prose (outside code) and each cell output's text of one built page"
    SKIP = {'pre', 'script', 'style', 'code'}
    def __init__(self, text):
        super().__init__()
        self.prose, self.outputs, self.traceback = [], [], False
        self._skip, self._out, self._stack = 0, None, []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        if tag in ('br', 'img', 'hr', 'input', 'meta', 'link'): return
        classes = (dict(attrs).get('class') or '').split()
        self.traceback |= 'traceback' in classes
        opened = 'cell_output' in classes and self._out is None
        if opened: self._out = []
        self._skip += tag in self.SKIP
        self._stack.append((tag, opened))

    def handle_endtag(self, tag):
        while self._stack:
            t, opened = self._stack.pop()
            self._skip -= t in self.SKIP
            if opened:
                self.outputs.append(''.join(self._out))
                self._out = None
            if t == tag: break

    def handle_data(self, data):
        if self._out is not None: self._out.append(data)
        elif not self._skip: self.prose.append(data)


# A path of the machine that built the site (`<site-packages>/...` is the course's own placeholder)
_re_machine_path = re.compile(r'[\w.-]/site-packages/|(?<![\w.<>-])/(?:root|work|tmp|home)/')
_re_raw_link = re.compile(r'\]\([^)\s]+\)')  # `[text](url)` that Markdown did not render
_re_bar = re.compile(r'\|[█-]*\|\s*\d+(?:\.\d+)?%\s*\[\d+/\d+|<progress\b')  # fastprogress's


def page_problems(text):
    "What a built page shows that a learner should not see, as a list of lines"
    page = Reading(text)
    problems = ['a traceback'] if page.traceback else []
    for i, out in enumerate(page.outputs):
        where = f'output {i + 1}'
        if 'Traceback (most recent call last)' in out: problems.append(f'{where}: a traceback')
        if m := _re_machine_path.search(out):
            problems.append(f'{where}: a machine path: {out[max(0, m.start()-40):m.end()+40]!r}')
        if (n := len(_re_bar.findall(out))) > 1:
            problems.append(f'{where}: {n} progress bars')
    prose = ' '.join(''.join(page.prose).split())
    problems += [f'raw markdown link: {prose[max(0, m.start()-60):m.end()]!r}'
                 for m in _re_raw_link.finditer(prose)]
    return problems


def test_page_problems_finds_each_kind():
    "The checker below finds what it looks for, and passes what the course shows on purpose"
    bad = ('<p>4. [<code>fine_tune</code> and rates](lessons/x.ipynb): what</p>'
           '<div class="cell_output"><pre>Traceback (most recent call last):\n'
           '  File "/root/.venv/lib/python3.11/site-packages/IPython/x.py"</pre></div>'
           '<div class="cell_output"><div class="output traceback"><pre>x</pre></div></div>'
           '<div class="cell_output"><pre>Epoch 1/5 : |████----| 50.00% [1/2]'
           'Epoch 1/5 : |████████| 100.00% [2/2]</pre></div>')
    found = page_problems(bad)
    assert len(found) == 5, found
    good = ('<p>See <a href="x.html">x</a> and <code>[t](u)</code>.</p><pre>[a](b)</pre>'
            '<div class="cell_output"><pre>- &lt;site-packages&gt;/finetune_course\n'
            'epoch train_loss\n0 1.2\n</pre></div>')
    assert page_problems(good) == []


def test_pages_show_what_a_learner_should_see(site):
    "Every built page: no traceback, no path of the build machine, no raw link, no progress walls"
    found = {p: page_problems((site/'site'/f'{p}.html').read_text()) for p, _ in built_pages(site)}
    found = {p: f for p, f in found.items() if f}
    assert not found, '\n'.join(f'{p}.html: {l}' for p, f in found.items() for l in f)



_re_numpy_repr = re.compile(r'\bnp\.(?:float|int|uint|bool)\w*\(')  # `np.float64(0.5)`: say 0.5


def stored_output_problems(nb:dict)->list:
    "What a stored notebook's outputs show that a learner should not: bar text, a machine path, a NumPy repr"
    problems = []
    for cell in nb['cells']:
        for out in cell.get('outputs', []):
            data = out.get('data', {})
            text = ''.join(out.get('text', '')) + ''.join(data.get('text/plain', '')) + ''.join(data.get('text/html', ''))
            where = f"cell {cell.get('id')}"
            if _re_bar.search(text): problems.append(f'{where}: progress-bar text')
            if m := _re_machine_path.search(text): problems.append(f'{where}: a machine path {m.group()!r}')
            if m := _re_numpy_repr.search(text): problems.append(f'{where}: a NumPy repr {m.group()!r}')
    return problems


def test_stored_output_problems_finds_each_kind():
    "The stored-notebook checker on made-up outputs whose answer is known"
    out = lambda text: {'output_type': 'stream', 'name': 'stdout', 'text': [text]}
    bad = {'cells': [{'id': 'a', 'outputs': [out('|████----| 50.00% [1/2 00:01<00:01]')]},
                     {'id': 'b', 'outputs': [{'output_type': 'execute_result',
                                              'data': {'text/plain': ["(np.float64(0.01), '/work/x/y.png')"]}}]}]}
    found = stored_output_problems(bad)
    assert [p.split(':')[0] for p in found] == ['cell a', 'cell b', 'cell b'], found
    good = {'cells': [{'id': 'c', 'outputs': [out("(0.01, 'data/train/happy.png') np.argmax")]}]}
    assert stored_output_problems(good) == []


def test_stored_notebooks_are_clean():
    "Every notebook as committed (what GitHub and a text viewer show): no bars, machine paths or NumPy reprs"
    found = {nb.relative_to(ROOT): stored_output_problems(json.loads(nb.read_text()))
             for nb in sorted((ROOT/'nbs').rglob('*.ipynb')) if '.ipynb_checkpoints' not in nb.parts}
    found = {n: f for n, f in found.items() if f}
    assert not found, '\n'.join(f'{n}: {l}' for n, f in found.items() for l in f)


SIDEBAR_SHOWN = """sel => {
  const s = document.querySelector(sel), r = s.getBoundingClientRect();
  const hit = document.elementFromPoint(r.left + r.width / 2, r.top + Math.min(200, r.height / 2));
  return r.left >= -1 && r.right <= innerWidth + 1 && r.width > 100
         && getComputedStyle(s).visibility === 'visible' && s.contains(hit);
}"""

VISIBLE_SEARCH = """() => [...document.querySelectorAll('.search-button-field, .bd-search input')]
  .filter(e => { const r = e.getBoundingClientRect();
                 return r.width > 0 && r.height > 0 && getComputedStyle(e).visibility !== 'hidden'; })
  .length"""


@pytest.mark.parametrize('width', [390, 1280])
def test_menu_contents_and_search_at_phone_and_desktop_widths(site, server, browser, tmp_path, width):
    """At a phone's width the visible menu and contents buttons open the sidebar and the page's table
    of contents; a desktop shows one search box. Screenshots of a lesson and an API page."""
    pages = built_pages(site)
    lesson = next(p for p, nb in pages if nb.parent.name == 'lessons')
    api = next(p for p, nb in pages if nb.parent.name == 'api')
    page = browser.new_page(viewport={'width': width, 'height': 844 if width < 500 else 900})
    for name in (lesson, api):
        page.goto(server + f'{name}.html', wait_until='load')
        page.screenshot(path=str(tmp_path/f"{name.replace('/', '_')}_{width}.png"))
        if width >= 992:
            assert page.evaluate(VISIBLE_SEARCH) == 1, f"{name}: not one search box"
            assert page.evaluate(SIDEBAR_SHOWN, '.bd-sidebar-primary'), f"{name}: no menu"
            continue
        for toggle, sidebar in (('.primary-toggle', '.bd-sidebar-primary'),
                                ('.secondary-toggle', '.bd-sidebar-secondary')):
            page.goto(server + f'{name}.html', wait_until='load')
            assert not page.evaluate(SIDEBAR_SHOWN, sidebar), f"{name}: {sidebar} shown at first"
            buttons = page.locator(f'{toggle}:visible')
            assert buttons.count() == 1, f"{name}: {buttons.count()} visible {toggle} buttons"
            buttons.click()
            page.wait_for_timeout(600)  # the theme slides the sidebar in
            shown = page.evaluate(SIDEBAR_SHOWN, sidebar)
            page.screenshot(path=str(tmp_path/f"{name.replace('/', '_')}_{width}{toggle}.png"))
            assert shown, f"{name}: the visible {toggle} button did not open {sidebar}"
    page.close()
    print(f'screenshots in {tmp_path}')


# --- figures keep their shape, and no page is wider than a phone's screen -----------------------

LAYOUT_FACTS = """async () => {
  await document.fonts.ready;
  const vw = document.documentElement.clientWidth;
  const name = e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '')
    + (typeof e.className === 'string' && e.className.trim()
       ? '.' + e.className.trim().split(/\\s+/).slice(0, 2).join('.') : '');
  const shown = [...document.images].filter(i => {
    const r = i.getBoundingClientRect();
    return i.naturalWidth && i.naturalHeight && r.width >= 1 && r.height >= 1; });
  const squashed = shown.flatMap(i => {
    const r = i.getBoundingClientRect(), height = r.width * i.naturalHeight / i.naturalWidth;
    return Math.abs(r.height - height) > Math.max(1, 0.02 * height)
      ? [{src: i.getAttribute('src').split('/').pop().slice(0, 24),
          natural: [i.naturalWidth, i.naturalHeight], shown: [r.width, r.height].map(Math.round)}]
      : []; });
  // What reaches past the window's right edge outside a box that scrolls or clips it (the
  // outermost such element only): the culprits when the page is too wide
  const inBox = e => { for (let p = e.parentElement; p && p !== document.body; p = p.parentElement)
                         if (getComputedStyle(p).overflowX !== 'visible') return true;
                       return false; };
  const wide = [];
  for (const e of document.body.querySelectorAll('*')) {
    const r = e.getBoundingClientRect();
    if (r.right <= vw + 1 || !r.width || getComputedStyle(e).position === 'fixed' || inBox(e)
        || wide.some(w => w.el.contains(e))) continue;
    wide.push({el: e, what: name(e), right: Math.round(r.right),
               text: (e.innerText || '').slice(0, 50)});
  }
  return {window: vw, width: document.documentElement.scrollWidth, images: shown.length,
          squashed, wide: wide.slice(0, 3).map(({el, ...w}) => w)};
}"""


def layout_problems(facts)->list:
    """What `LAYOUT_FACTS` found out of shape: each image whose shown width/height differs from its
    own by more than 2 %, and a page wider than the window (with what sticks out)"""
    problems = [f"squashed image {i['src']}: {i['natural'][0]}x{i['natural'][1]} shown "
                f"{i['shown'][0]}x{i['shown'][1]}" for i in facts['squashed']]
    if facts['width'] > facts['window']:
        problems.append(f"page {facts['width']} px wide in a {facts['window']} px window: " + '; '.join(
            f"{w['what']} reaches {w['right']} px {w['text']!r}" for w in facts['wide']))
    return problems


def _layout(page, url):
    "`LAYOUT_FACTS` of `url` once its images have loaded"
    page.goto(url, wait_until='load')
    page.wait_for_function("[...document.images].every(i => i.complete)")
    return page.evaluate(LAYOUT_FACTS)


def test_layout_problems_finds_squashed_images_and_wide_pages(browser, tmp_path):
    "The check below on two made-up pages at a phone's width, whose answers are known"
    from PIL import Image
    Image.new('RGB', (800, 400), 'teal').save(tmp_path/'figure.png')
    token = 'tests/test_train.py::test_' + 'a_very_long_name_' * 6
    page_html = """<html><body style="margin: 8px">
      <img src="figure.png" style="{img}"><p>checked by <code style="{code}">{token}</code></p>
      <div style="overflow-x: auto"><table><tr>{cells}</tr></table></div>
      <img src="figure.png" style="width: 40px; height: 20px"></body></html>"""
    cells = '<td>accuracy_std</td>' * 40  # a wide table, scrolling in its own box: not a problem
    (tmp_path/'bad.html').write_text(page_html.format(
        img='width: 640px; height: 320px; max-width: 100%', code='white-space: nowrap',
        token=token, cells=cells))
    (tmp_path/'good.html').write_text(page_html.format(
        img='width: 640px; max-width: 100%; height: auto', code='overflow-wrap: anywhere',
        token=token, cells=cells))
    page = browser.new_page(viewport={'width': 390, 'height': 844})
    bad = _layout(page, (tmp_path/'bad.html').as_uri())
    good = _layout(page, (tmp_path/'good.html').as_uri())
    page.close()
    found = layout_problems(bad)
    assert len(found) == 2, found
    assert found[0].startswith('squashed image figure.png: 800x400 shown 374x320'), found
    assert found[1].startswith('page ') and 'code reaches' in found[1] and token[:20] in found[1]
    assert bad['images'] == good['images'] == 2
    assert layout_problems(good) == [], layout_problems(good)


@pytest.mark.parametrize('width', [390, 1280])
def test_figures_keep_their_shape_and_pages_fit_the_window(site, server, browser, tmp_path, width):
    """Every built page at a phone's and a desktop's width: each figure keeps its aspect ratio, and
    the page is no wider than the window (a wide table or code scrolls or wraps in its own box)"""
    page = browser.new_page(viewport={'width': width, 'height': 844 if width < 500 else 900})
    found, measured, expected = {}, 0, 0
    for name, _ in built_pages(site):
        facts = _layout(page, server + f'{name}.html')
        measured += facts['images']
        expected += _shown(site/'work'/'src'/f'{name}.ipynb')[1]
        if problems := layout_problems(facts):
            found[name] = problems
            page.screenshot(path=str(tmp_path/f"{name.replace('/', '_')}_{width}.png"),
                            full_page=True)
    page.close()
    print(f'{width} px: {measured} images measured in {len(built_pages(site))} pages')
    assert measured >= expected > 0, (measured, expected)
    assert not found, f'screenshots in {tmp_path}\n' + '\n'.join(
        f'{p}.html: {l}' for p, f in found.items() for l in f)

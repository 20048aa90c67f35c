"""Build the course website into _docs/ offline, with Jupyter Book 1 standing in for Quarto.

Usage: python tools/build_docs.py [--out _docs] [--work _proc/docs]

Quarto (what `nbdev_docs` calls) cannot be installed on the course machines, so:
1. tools/docs_notebooks.py prepares every notebook of `nbs/_quarto.yml`'s sidebar with nbdev's
   own doc processors and turns what only Quarto understands into plain notebook;
2. Jupyter Book 1 builds the HTML from the saved outputs (nothing is executed), with the sidebar
   in `_quarto.yml`'s order: its `_config.yml` and `_toc.yml` are written here on every build,
   from `nbs/_quarto.yml`, `nbs/nbdev.yml` and `settings.ini`; tools/docs.css is its style sheet.
The pages show the notebooks' committed outputs (their progress bars taken out, and their
figures' fixed heights, so that a figure narrowed to its column keeps its shape). The site is only
replaced when Jupyter Book reports no warning (a broken link is one) and no page shows a traceback.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from glob import glob
from pathlib import Path

import yaml

from docs_notebooks import (NBS, ROOT, Linker, api_entries, module_of, nbdev_settings,
                            page_name, plain_notebook, process_in_worker)


def sidebar(quarto=NBS/'_quarto.yml'):
    "The sidebar of `_quarto.yml` as [(section title or None, [notebook paths relative to nbs/])]"
    spec = yaml.safe_load(Path(quarto).read_text())
    def expand(item):
        if isinstance(item, dict) and 'href' in item: item = item['href']
        if not isinstance(item, str): return []
        found = sorted(glob(item, root_dir=NBS, recursive=True)) if any(c in item for c in '*?[') \
            else [item]
        return [f for f in found if f.endswith('.ipynb') and not Path(f).name.startswith('_')]
    shelves = []
    for item in spec['website']['sidebar']['contents']:
        if isinstance(item, dict) and 'section' in item:
            contents = item.get('contents', [])
            pages = [p for c in ([contents] if isinstance(contents, str) else contents)
                     for p in expand(c)]
            shelves.append((item['section'], pages))
        else: shelves.append((None, expand(item)))
    return shelves


def book_config(settings, quarto, nbdev_yml):
    "Jupyter Book's `_config.yml`, from the nbdev and Quarto settings"
    site = {**nbdev_yml.get('website', {}), **quarto.get('website', {})}
    return {
        'title': site.get('title', settings.lib_name),
        'author': settings.author,
        'copyright': settings.copyright,
        'only_build_toc_files': True,
        'exclude_patterns': ['_assets/**'],
        # The saved outputs are the pages: nothing runs while the site is built.
        'execute': {'execute_notebooks': 'off'},
        'parse': {'myst_enable_extensions': ['colon_fence', 'dollarmath'],
                  'myst_url_schemes': ['mailto', 'http', 'https'],
                  'myst_heading_anchors': 3},
        'repository': {'url': settings.git_url, 'branch': settings.branch,
                       'path_to_book': 'nbs'},
        'html': {'use_repository_button': True, 'home_page_in_navbar': True,
                 'use_multitoc_numbering': False, 'baseurl': site.get('site-url', '')},
        # Nothing that fetches at view time: no Thebe/Binder/Colab, no comments, no analytics.
        'launch_buttons': {'thebe': False, 'binderhub_url': '', 'jupyterhub_url': '',
                           'colab_url': '', 'deepnote_url': ''},
        'sphinx': {'config': {
            # Jupyter Book's list without sphinx_thebe (live code from Binder) and intersphinx
            # (fetches other projects' inventories while building).
            'extensions': ['sphinx_togglebutton', 'sphinx_copybutton', 'myst_nb', 'jupyter_book',
                           'sphinx_comments', 'sphinx_external_toc', 'sphinx_design',
                           'sphinx_book_theme'],
            # show_doc's markdown (signature, docments table) is rendered as MyST
            'nb_render_markdown_format': 'myst',
            'html_show_sourcelink': False,
            # The theme's light/dark mode follows the reader's system; without this its script
            # logs "Got invalid theme mode" on a first visit.
            'html_context': {'default_mode': 'auto'},
            'suppress_warnings': ['myst.domains', 'mystnb.unknown_mime_type'],
        }},
    }


def book_toc(shelves, pages):
    "Jupyter Book's `_toc.yml`: the index first, then one part per sidebar section"
    loose = [pages[NBS/p] for title, ps in shelves if title is None for p in ps]
    toc = {'format': 'jb-book', 'root': loose[0], 'parts': []}
    if loose[1:]: toc['parts'].append({'chapters': [{'file': p} for p in loose[1:]]})
    for title, ps in shelves:
        if title is not None and ps:
            chapters = [{'file': pages[NBS/p]} for p in ps]
            toc['parts'].append({'caption': title, 'chapters': chapters})
    return toc


def free_heights(nb):
    """`nb` without the height that each image output records for its display, in place. MyST-NB
    makes the recorded width and height an inline style; where the column is narrower than that
    width the figure shrinks in width only, squashed. With the width alone (tools/docs.css caps it
    at the column's) the height follows the width."""
    for cell in nb.cells:
        for out in cell.get('outputs', []):
            for mime, shown in out.get('metadata', {}).items():
                if mime.startswith('image/') and isinstance(shown, dict): shown.pop('height', None)
    return nb


def build(out=ROOT/'_docs', work=ROOT/'_proc'/'docs', workers=None):
    """Build the site into `out`; return the number of pages. Stop, writing nothing, when a cell that
    nbdev's doc step runs fails, Jupyter Book warns, or a page would show a traceback"""
    from execnb.nbio import read_nb, write_nb
    settings = nbdev_settings()
    quarto = yaml.safe_load((NBS/'_quarto.yml').read_text())
    nbdev_yml = yaml.safe_load((NBS/'nbdev.yml').read_text()) if (NBS/'nbdev.yml').exists() else {}
    shelves = sidebar()
    notebooks = [NBS/p for _, ps in shelves for p in ps]
    pages = {nb: page_name(nb.relative_to(NBS)).as_posix() for nb in notebooks}
    # Links to other .md/.ipynb files in nbs/ (not in the sidebar) are left to the link checker.
    site_url = settings.doc_host + settings.doc_baseurl

    work, out = Path(work).resolve(), Path(out).resolve()
    shutil.rmtree(work, ignore_errors=True)
    (work/'src').mkdir(parents=True)
    t0 = time.time()
    for nb in notebooks: (work/'src'/pages[nb]).parent.mkdir(parents=True, exist_ok=True)
    jobs = [(nb, work/'src'/(pages[nb] + '.ipynb')) for nb in notebooks]
    n_workers = workers or min(2, os.cpu_count() or 1)
    with ThreadPoolExecutor(n_workers) as pool:  # a worker process does every n-th notebook
        results = pool.map(process_in_worker, [jobs[i::n_workers] for i in range(n_workers)])
    failed = {k: v for r in results for k, v in r.items() if v}
    print(f'nbdev processors: {len(notebooks)} notebooks in {time.time()-t0:.1f} s')
    if failed: sys.exit("nbdev's doc step could not run these cells (definitions, show_doc and "
                        "imports), so their pages would lack entries:\n" + '\n'.join(
                            f"  {nb}, cell id {c['cell_id']}: {c['error']}"
                            for nb, cells in failed.items() for c in cells))
    prepared = {nb: read_nb(work/'src'/(pages[nb] + '.ipynb')) for nb in notebooks}
    entries = {pages[nb]: api_entries(prepared[nb], module_of(nb)) for nb in notebooks}
    for nb in notebooks:
        link = Linker(pages, pages[nb], nb, site_url, settings.git_url, work/'src', entries)
        write_nb(free_heights(plain_notebook(prepared[nb], link, entries[pages[nb]])),
                 work/'src'/(pages[nb] + '.ipynb'))
    (work/'src'/'_static').mkdir(exist_ok=True)  # Jupyter Book adds the CSS files found there
    shutil.copy2(Path(__file__).with_name('docs.css'), work/'src'/'_static'/'docs.css')
    (work/'src'/'_config.yml').write_text(yaml.safe_dump(book_config(settings, quarto, nbdev_yml),
                                                         sort_keys=False))
    (work/'src'/'_toc.yml').write_text(yaml.safe_dump(book_toc(shelves, pages), sort_keys=False))

    t0 = time.time()
    jb = Path(sys.executable).parent/'jupyter-book'
    res = subprocess.run([str(jb), 'build', str(work/'src'), '--builder', 'html',
                          '--path-output', str(work), '--keep-going', '--quiet'],
                         capture_output=True, text=True)
    print(f'jupyter-book: {time.time()-t0:.1f} s')
    built = work/'_build'/'html'
    log = re.sub(r'\x1b\[[0-9;]*m', '', res.stdout + res.stderr)
    for nb in notebooks:  # say which notebook a problem is in, not which prepared copy
        log = log.replace(str(work/'src'/(pages[nb] + '.ipynb')), str(nb.relative_to(ROOT)))
    problems = [l for l in log.splitlines() if 'WARNING' in l or 'ERROR' in l]
    if res.returncode != 0 or not (built/'index.html').exists() or problems:
        sys.exit(f"jupyter-book could not build the site cleanly (exit {res.returncode}); "
                 f"nothing was written to {out}:\n" + '\n'.join(problems or [log]))
    shown = {page: tb for page in pages.values() if (tb := traceback_in(built/f'{page}.html'))}
    if shown:
        sys.exit("these pages would show a traceback; nothing was written to "
                 f"{out}:\n" + '\n'.join(f'  {p}.html: {tb}' for p, tb in shown.items()))
    (built/'.nojekyll').touch()  # GitHub Pages: serve the _static/_images folders as they are
    shutil.rmtree(out, ignore_errors=True)
    shutil.copytree(built, out)
    return len(notebooks)


# A traceback as MyST-NB renders an error output, or as a cell printed one
_re_traceback = re.compile(r'class="[^"]*\btraceback\b|Traceback \(most recent call last\)')


def traceback_in(page:Path)->str|None:
    "The first traceback's line that built `page` shows, or None"
    text = page.read_text()
    m = _re_traceback.search(text)
    if not m: return None
    return ' '.join(re.sub(r'<[^>]+>', ' ', text[m.start():m.start() + 600]).split())[:200]


if __name__ == '__main__':
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--out', type=Path, default=ROOT/'_docs', help="folder of the built site")
    parser.add_argument('--work', type=Path, default=ROOT/'_proc'/'docs',
                        help="folder for the prepared notebooks and Jupyter Book's files")
    args = parser.parse_args()
    t0 = time.time()
    n = build(args.out, args.work)
    print(f'{n} pages built into {args.out} in {time.time()-t0:.1f} s')

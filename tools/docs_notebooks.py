"""Prepare the course's notebooks for the website (tools/build_docs.py runs this).

1. nbdev's own doc processors (`nbdev.processors.FilterDefaults`: drop `#| hide` cells, hide
   `#| export` sources, run and render `show_doc`, link names in backticks to their API pages);
2. what only Quarto understands becomes plain notebook for Jupyter Book: the front matter becomes
   the page's `# Title` and summary, `#| echo: false` a `remove-input` tag, `show_doc`'s leading
   `---` goes, links to the Quarto site, to notebooks and to `.md` files point at the built pages.

The pages show the notebooks' committed outputs: of the cells nbdev's doc step would re-run for
their imports, only the imports run (definitions and `show_doc` calls run in full, as the page
shows what they make). A cell that fails there is reported with its cell id and error, and
tools/build_docs.py stops. fastprogress's progress bars are taken out of the outputs, leaving
what they leave on a terminal once done: fastai's results table (as fastai's own docs show it);
so are outputs that show nothing (a blank line, an empty string); a printed Markdown table is
shown as a table.
Run as `python tools/docs_notebooks.py SRC DST [SRC DST ...]` it does step 1 in this process and
prints the cells that failed as JSON.
"""
import html
import json
import os
import posixpath
import re
import shutil
import subprocess
import sys
import time
from itertools import chain
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
NBS = ROOT/'nbs'


def nbdev_settings():
    "settings.ini's values (nbdev's own reader)"
    from nbdev.config import get_config
    return get_config(path=ROOT)


def page_name(nb:Path)->Path:
    "The page a notebook becomes, relative to nbs/, as nbdev names it (`api/00_core` -> `api/core`)"
    from nbdev.doclinks import _nbpath2html
    return _nbpath2html(nb).with_suffix('')


def module_of(nb:Path):
    "The module a notebook exports to (`#| default_exp core` -> `finetune_course.core`), or None"
    from execnb.nbio import read_nb
    from nbdev.processors import _default_exp
    name = _default_exp(read_nb(nb))
    return f'{nbdev_settings().lib_name}.{name}' if name else None


# --- nbdev's doc processors ----------------------------------------------------------------------

def _imports_only(source:str)->str:
    "The top-level import statements of a cell's `source`, as code"
    import ast
    try: tree = ast.parse(source)
    except SyntaxError: return ''  # magics (`%time`) and shell lines: nothing to import
    return '\n'.join(ast.unparse(n) for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom)))


def _doc_procs(ran):
    """nbdev's `FilterDefaults` processors, whose `show_doc` step runs only what `show_doc` needs and
    keeps every other cell's committed output. nbdev re-runs each cell that imports something and
    publishes whatever it prints, tracebacks too (a demo cell that mixes imports with code needs
    names from earlier cells that nbdev does not run). Here such a cell runs its imports only.
    Each cell run is recorded in `ran` with its error, if any (the build stops on one)."""
    import ast
    from nbdev.processors import FilterDefaults, _do_eval, _show_docs, exec_show_docs

    class exec_show_docs_only(exec_show_docs):
        "`exec_show_docs` that runs definitions and `show_doc` calls, and only the imports of the rest"
        def __call__(self, cell):
            if not getattr(self.nb, 'has_docs_', None) or not hasattr(self, 'k'): return
            if not _do_eval(cell): return
            defines = cell.directives_.keys() & {'export', 'exports', 'exporti', 'exec_doc'}
            t0 = time.time()
            if defines or _show_docs(cell.parsed_()): self.k.cell(cell)  # the page shows these
            elif imports := _imports_only(cell.source): self.k.run(imports)  # outputs stay
            error = None
            if self.k.exc:
                error = f"{type(self.k.exc).__name__}: {' '.join(str(self.k.exc).split())}"
                self.k.exc = None
            ran.append(dict(cell_id=cell.get('id'), seconds=round(time.time() - t0, 1), error=error))

    class DocFilter(FilterDefaults):
        def base_procs(self):
            return [exec_show_docs_only if p is exec_show_docs else p for p in super().base_procs()]
    return DocFilter()


def process_notebook(src:Path, dst:Path):
    """Run nbdev's doc processors on `src`, write the result to `dst`; return the cells that failed
    (their id, the time they took and their error)"""
    import warnings
    from execnb.nbio import read_nb, write_nb
    os.environ['IN_TEST'] = '1'  # as nbdev's own doc step sets it
    ran, cwd = [], os.getcwd()
    nb = read_nb(src)
    nb.path_ = str(src)
    os.chdir(src.parent)  # as nbdev_test runs a notebook: relative paths start beside it
    try:
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')  # nbdev's "imports and other code": imports run only
            _doc_procs(ran)(nb)
    finally: os.chdir(cwd)
    write_nb(nb, dst)
    return [c for c in ran if c['error']]


def process_in_worker(jobs):
    "`process_notebook` on each (src, dst) of `jobs` in a fresh Python, as nbdev's doc step does"
    res = subprocess.run([sys.executable, __file__, *map(str, chain(*jobs))],
                         capture_output=True, text=True)
    if res.returncode != 0: sys.exit(f"nbdev's doc processors failed:\n{res.stderr}")
    return json.loads(res.stdout.splitlines()[-1])


# --- Quarto-only parts into plain notebook ------------------------------------------------------

_re_directive = re.compile(r'^\s*#\|\s*([\w-]+)\s*:?\s*(.*?)\s*$')
_re_link = re.compile(r'(!?)\[((?:[^\[\]]|\[[^\]]*\])*)\]\(\s*<?([^)\s>]+)>?((?:\s+"[^"]*")?)\s*\)')
_re_attrs = re.compile(r'\[([^\]]*)\]\(([^)\s]*)\)\{[^{}\n]*\}')  # `[t](u){attrs}`
_re_href = re.compile(r'''(\b(?:href|src)=)(["'])([^"']+)\2''')


_re_entry = re.compile(r'^#{2,4}\s+(\S+)\s*$', re.MULTILINE)  # show_doc's heading of a name


def api_entries(nb, module)->dict:
    "{nbdev's anchor: the anchor on the site} of the names that notebook `nb` shows with show_doc"
    found = {}
    for cell in nb.cells:
        for out in cell.get('outputs', []):
            md = ''.join(out.get('data', {}).get('text/markdown', ''))
            found |= {n.lower(): f'{module}.{n}' if module else n for n in _re_entry.findall(md)}
    return found


class Linker:
    "Rewrites the links of one page so that they work on the built site"
    def __init__(self, pages, page, src, site_url, git_url, work, entries):
        self.pages, self.page, self.src, self.work, self.entries = pages, page, src, work, entries
        self.site_url, self.git_url = site_url.rstrip('/') + '/', git_url.rstrip('/')
        # README.md is rendered from the index notebook: its links are relative to the repo root
        self.bases = [ROOT, src.parent] if src == NBS/'index.ipynb' else [src.parent]

    def _rel(self, target:str)->str:
        "`target` (a path relative to nbs/) relative to this page's folder"
        return posixpath.relpath(target, posixpath.dirname(self.page) or '.')

    def target(self, url:str, image=False)->str:
        if url.startswith(self.site_url):  # nbdev's links to names: the Quarto site's pages
            path, _, anchor = url[len(self.site_url):].partition('#')
            page = path.removesuffix('.html')
            if page not in self.pages.values(): return url
            if not anchor: return self._rel(page + '.html')
            # nbdev links private names too (`_walk`), which have no entry: no link, as in prose
            if anchor.lower() not in self.entries[page]: return None
            return self._rel(page + '.html') + '#' + self.entries[page][anchor.lower()]
        if re.match(r'^[a-z][a-z0-9+.-]*:', url, re.I) or url.startswith(('#', '/')): return url
        path, _, anchor = url.partition('#')
        for base in self.bases:
            f = (base/path).resolve()
            if f.exists(): break
        else: return url
        anchor = f'#{anchor}' if anchor else ''
        if f.suffix in ('.ipynb', '.md') and f in self.pages:
            return self._rel(self.pages[f] + '.ipynb') + anchor
        if not f.is_relative_to(ROOT): return url
        rel = f.relative_to(ROOT).as_posix()
        if image and f.is_file():  # shown on the page: the site carries its own copy
            copy = self.work/'_assets'/rel
            copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(f, copy)
            return self._rel(f'_assets/{rel}')
        kind = 'blob' if f.is_file() else 'tree'
        return f'{self.git_url}/{kind}/{nbdev_settings().branch}/{rel}{anchor}'

    def _link(self, m):
        image, text, url, title = m.groups()
        # nbdev links a name in backticks inside a link's text too; a link in a link is plain text
        text = _re_link.sub(lambda n: n[2] if n[3].startswith(self.site_url) else n[0], text)
        if not url.startswith(self.site_url):
            return f'{image}[{text}]({self.target(url, bool(image))}{title})'
        target = self.target(url)
        if target == url: return m[0]
        if target is None: return text
        # A link to a name's API entry: HTML, so that MyST passes it through unresolved
        label = html.escape(text.strip('`'))
        if text.startswith('`'):
            label = f'<code class="docutils literal notranslate">{label}</code>'
        return f'<a class="reference internal" href="{target}">{label}</a>'

    def _prose(self, md:str)->str:
        # show_doc's `[source](url){style="float:right..."}` is Pandoc's; tools/docs.css floats it
        md = _re_attrs.sub(lambda m: f'<a class="reference external showdoc-source" '
                           f'href="{html.escape(m[2])}">{html.escape(m[1])}</a>', md)
        md = _re_link.sub(self._link, md)
        return _re_href.sub(lambda m: f'{m[1]}{m[2]}{self.target(m[3], m[1] == "src=")}{m[2]}', md)

    def __call__(self, md:str)->str:
        "`md` with its links fixed; in code blocks nbdev's links to names go back to plain names"
        parts = re.split(r'(^```.*?^```[ \t]*$)', md, flags=re.MULTILINE | re.DOTALL)
        unlink = lambda m: m[2] if m[3].startswith(self.site_url) else m[0]
        return ''.join(_re_link.sub(unlink, p) if p.startswith('```') else self._prose(p)
                       for p in parts)


def _anchor_entries(md, entries):
    """Put an anchor named like a Python object (`finetune_course.core.atomic_write`) before each
    show_doc heading: Sphinx's own ids for headings in outputs (`atomic-write`) clash with
    section ids (the `explain` entry on the Explain page gets `id1`), and MyST links cannot
    reach them."""
    return _re_entry.sub(lambda m: f'<div id="{entries[m[1].lower()]}"></div>\n\n{m[0]}', md)


# fastprogress's bar, as it prints one (`Epoch 1/5 : |████----| 12.50% [4/32 00:03<00:27]`) or
# shows one in Jupyter (an HTML <progress>)
_re_bar = re.compile(r'\|[█-]*\|\s*\d+(?:\.\d+)?%\s*\[\d+/\d+')
_re_bar_html = re.compile(r'<div>\s*<progress\b.*?</progress>.*?</div>', re.DOTALL)


def _as_terminal(text:str)->str:
    """Printed `text` as a terminal leaves it, with its progress bars gone: each `\\r` writes over the
    line from its start, and a line so rewritten that ends as a bar or nothing is dropped"""
    lines = []
    for line in text.split('\n'):
        if '\r' not in line:
            lines.append(line)
            continue
        shown = ''
        for part in line.split('\r'): shown = part + shown[len(part):]
        shown = shown.rstrip()
        if shown.strip('█ ') and not _re_bar.search(shown): lines.append(shown)
    return '\n'.join(lines)


_re_md_table = re.compile(r'\|[^\n]*\|[ \t]*\n\|[-:| \t]+\|[ \t]*(\n\|[^\n]*\|[ \t]*)+')  # printed


def plain_outputs(outputs:list)->list:
    """A cell's `outputs` without fastprogress's bars (keeping the results table they print with),
    and without outputs that show nothing: a blank line printed, an empty string returned. A
    printed Markdown table is shown as a table."""
    kept = []
    for out in outputs:
        if out.get('output_type') == 'stream':
            text = ''.join(out['text'])
            if '\r' in text: text = out['text'] = _as_terminal(text)
            if not text.strip(): continue
            if _re_md_table.fullmatch(text.strip()):  # `dvc exp show --md`: shown as the table it is
                out = dict(output_type='display_data', metadata={},
                           data={'text/markdown': text.strip(), 'text/plain': text})
        if out.get('data', {}).keys() == {'text/plain'} and \
            ''.join(out['data']['text/plain']) in ("''", '""'): continue
        html = ''.join(out.get('data', {}).get('text/html', ''))
        if '<progress' in html:
            html = _re_bar_html.sub('', html)
            if not re.sub(r'<style.*?</style>|<[^>]+>|\s', '', html, flags=re.DOTALL): continue
            out['data']['text/html'] = html
        kept.append(out)
    return kept


def plain_notebook(nb, link, entries):
    "Turn the Quarto-only parts of a processed notebook `nb` into plain notebook, in place"
    cells = []
    for cell in nb.cells:
        source = ''.join(cell.source) if isinstance(cell.source, list) else cell.source
        if cell.cell_type == 'raw' and source.startswith('---'):  # nbdev's front matter
            fm = yaml.safe_load(source.strip().strip('-'))
            text = f"# {fm['title']}"
            if fm.get('description'): text += f"\n\n> {fm['description']}"
            cell = dict(cell_type='markdown', id=cell.get('id'), metadata={}, source=link(text))
        elif cell.cell_type == 'markdown': cell.source = link(source)
        elif cell.cell_type == 'code':
            lines, tags = source.splitlines(), set(cell.metadata.get('tags', []))
            directives = dict(m.groups() for l in lines if (m := _re_directive.match(l)))
            if directives.get('include') == 'false': continue
            if directives.get('echo') == 'false': tags.add('remove-input')
            if directives.get('output') == 'false': tags.add('remove-output')
            if 'code-fold' in directives: tags.add('hide-input')
            cell.source = '\n'.join(l for l in lines if not _re_directive.match(l)).strip()
            if tags: cell.metadata['tags'] = sorted(tags)
            cell.outputs = plain_outputs(cell.get('outputs', []))
            for out in cell.outputs:
                data = out.get('data', {})
                if 'text/markdown' in data:
                    md = ''.join(data['text/markdown'])
                    md = re.sub(r'^\s*---\s*\n', '', md)  # show_doc's rule: a docutils error
                    data['text/markdown'] = _anchor_entries(link(md), entries)
        cells.append(cell)
    nb.cells = cells
    nb.metadata.pop('widgets', None)
    return nb


if __name__ == '__main__':
    paths = [Path(p) for p in sys.argv[1:]]
    print(json.dumps({str(src.relative_to(ROOT)): process_notebook(src, dst)
                      for src, dst in zip(paths[::2], paths[1::2])}))

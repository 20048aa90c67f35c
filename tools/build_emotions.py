"""Rebuild `finetune_course/images/emotions/` from openly licensed emoji packages on npm.

Run by hand from the repository root (not in CI: it downloads about 270 MB with `npm pack`;
about 30 s on a fast connection):

    pip install -r tools/requirements-build.txt
    python tools/build_emotions.py

then check the result with `python tools/check_emotions.py`. The output is deterministic: the
same packages give the same files. The new folder is built next to the old one
(`.emotions.new`) and swapped in with two renames, so readers never see a half-written folder.

What it writes (a contract other code relies on):

- `train/<class>/<style>_<code>.png` and `test/<class>/<style>_<code>.png`, 64x64 RGBA PNGs;
  `<style>` has no '_', `<code>` is the lowercase code point sequence joined by '-'.
- `test/` holds whole styles (`TEST_STYLES`) that never appear in `train/`. Their artists draw
  the same emoji as the training styles (each in their own way); no two styles are near copies
  of each other (`tools/check_emotions.py` measures it). After rendering, the build drops exact
  duplicates within a style and any held-out image (test, or a `VALID_STYLES` style) whose
  perceptual hash is within `NEAR_BITS` bits of the same emoji on the other side of the split,
  so no drawing sits on both sides; ATTRIBUTION.md lists every dropped file and why.
- `styles.csv` (style,emoji_set,package,version,licence,split,images): split is `train`,
  `valid` (train/ styles a splitter holds out by default) or `test`.
- `emoji.csv` (code,name,subcategory,emotion,why): the emoji-to-emotion table.
- `LICENSES/<SPDX id>.txt` and `ATTRIBUTION.md`.

The emoji-to-emotion table lives in `emotions_emoji.py`, the sets in `emotions_sources.py`,
the reading and drawing in `emotions_read.py`.
"""

import csv
import hashlib
import io
import json
import shutil
import tarfile
import tempfile
import textwrap
from collections import Counter
from pathlib import Path

import imagehash
from emotions_emoji import EMOJI, EMOTIONS, emoji_key
from emotions_read import (
    SIZE, npm_pack, read_font_set, read_iconify_set, read_image_set, render,
)
from emotions_sources import LICENCE_TEXTS, SETS, FontSet, ImageSet

OUT_DIR = Path(__file__).resolve().parent.parent / "finetune_course" / "images" / "emotions"
NEW_DIR = OUT_DIR.with_name(".emotions.new")  # built here, then renamed to OUT_DIR
OLD_DIR = OUT_DIR.with_name(".emotions.old")  # the previous build, deleted after the swap
NEAR_BITS = 4  # perceptual-hash bits (of 64) within which two drawings count as the same
TEST_STYLES = ("fluent3d", "fluenthc")  # Microsoft's Fluent designs: never seen in training
VALID_STYLES = ("notoblob", "twitter")  # default validation styles (held out at run time)

# Sets looked at and left out, with the reason (written to ATTRIBUTION.md).
REJECTED = [
    ("@iconify-json/fluent-emoji-flat 1.2.6 (MIT)",
     "same artwork as fluent3d: mean pixel difference 16/255 vs >= 29 between other sets"),
    ("@iconify-json/fluent-emoji 1.2.7 (MIT)",
     "Fluent 'color': 11/255 from fluent3d, 13/255 from fluent-emoji-flat"),
    ("@iconify-json/noto 1.2.9 (Apache-2.0)", "the same Noto artwork as google (9/255)"),
    ("@iconify-json/twemoji 1.2.5 (CC-BY-4.0)", "the same Twemoji artwork as twitter (2/255)"),
    ("@iconify-json/emojione 1.2.3 (CC-BY-4.0)",
     "the same EmojiOne 2.x artwork as emojione (2/255)"),
    ("emoji-datasource-apple, emoji-datasource-facebook",
     "their licences do not allow redistribution"),
    ("rinoh-typeface-symbola 0.1.1 (PyPI, Symbola 9.00 font)",
     "the font's only licence words are 'free for any use': no clear redistribution grant"),
    ("@svgmoji/blob 3.2.0", "the package holds no images (it fetches them from a CDN)"),
    ("emojione 3.x and 4.x", "no artwork in the package; EmojiOne 3+ artwork has its own "
     "non-open 'free license'"),
]

SPDX_NAMES = {
    "Apache-2.0": "Apache License 2.0",
    "CC-BY-4.0": "Creative Commons Attribution 4.0 International",
    "CC-BY-SA-4.0": "Creative Commons Attribution-ShareAlike 4.0 International",
    "MIT": "MIT License",
    "OFL-1.1": "SIL Open Font License 1.1",
}


def split_of(style: str) -> str:
    """Return a style's split in styles.csv: train, valid or test."""
    if style in TEST_STYLES:
        return "test"
    return "valid" if style in VALID_STYLES else "train"


def fetch(tmp: Path) -> tuple[dict, dict]:
    """Download every set; return {style: {emoji key: raster bytes or SVG}} and licence texts."""
    sources = {}
    for source in SETS:
        tarball = npm_pack(source.package, source.version, tmp)
        if isinstance(source, ImageSet):
            sources[source.style] = read_image_set(source, tarball)
        elif isinstance(source, FontSet):
            sources[source.style] = read_font_set(source, tarball)
        else:
            sources[source.style] = read_iconify_set(source, tarball)[0]
        tarball.unlink()
    texts = {}
    with tarfile.open(npm_pack(*LICENCE_TEXTS, tmp)) as tar:
        for licence in sorted({s.licence for s in SETS}):
            texts[licence] = json.load(tar.extractfile(f"package/licenses/{licence}.json"))[
                "licenseText"]
    return sources, texts


def render_all(sources: dict) -> list[dict]:
    """Render every image in set then emoji order; return dicts of style, emoji, folder, PNG
    bytes and perceptual hash (of the image as a plain RGB loader sees it)."""
    images = []
    for source in SETS:
        for emoji in EMOJI:
            data = sources[source.style].get(emoji_key(emoji.code))
            if data is None:
                continue
            image, png = render(data), io.BytesIO()
            image.save(png, format="PNG", optimize=True)
            images.append(dict(style=source.style, emoji=emoji, png=png.getvalue(),
                               folder="test" if source.style in TEST_STYLES else "train",
                               phash=imagehash.phash(image.convert("RGB"))))
    return images


def rel_path(image: dict) -> str:
    """Return an image's path inside the dataset folder."""
    return f"{image['folder']}/{image['emoji'].emotion}/{image['style']}_{image['emoji'].code}.png"


def drop_duplicates(images: list[dict]) -> tuple[list[dict], list[tuple[str, str]]]:
    """Drop exact duplicates within a style, then held-out drawings too close to the other side.

    Exact duplicates: the first image of a style (in emoji order) with those bytes is kept.
    Near copies across a split: a test image within `NEAR_BITS` bits of the same emoji in a
    train or valid style is dropped, then a valid image within `NEAR_BITS` bits of the same
    emoji in a train style. Returns the kept images and (path, reason) pairs for the dropped."""
    dropped, first = [], {}
    for image in images:
        key = image["style"], hashlib.sha256(image["png"]).hexdigest()
        if key in first:
            dropped.append((rel_path(image), f"exact duplicate within the style: the same bytes "
                                             f"as `{rel_path(first[key])}`"))
        else:
            first[key] = image
    kept = list(first.values())
    for held_out, other in (("test", ("train", "valid")), ("valid", ("train",))):
        others = [i for i in kept if split_of(i["style"]) in other]
        gone = set()
        for image in kept:
            if split_of(image["style"]) != held_out:
                continue
            close = [(int(image["phash"] - o["phash"]), rel_path(o)) for o in others
                     if o["emoji"].code == image["emoji"].code]
            if close and min(close)[0] <= NEAR_BITS:
                bits, near = min(close)
                gone.add(id(image))
                dropped.append((rel_path(image), f"near copy across the {'/'.join(other)}-"
                                f"{held_out} split: perceptual hash {bits} of 64 bits from "
                                f"`{near}`"))
        kept = [i for i in kept if id(i) not in gone]
    return kept, dropped


def write_images(images: list[dict], out: Path) -> Counter:
    """Save the images under `out`; return counts keyed by (style, emotion)."""
    counts = Counter()
    for image in images:
        path = out / rel_path(image)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(image["png"])
        counts[image["style"], image["emoji"].emotion] += 1
    return counts


def write_csvs(counts: Counter, out: Path) -> None:
    """Write styles.csv and emoji.csv under `out`."""
    with open(out / "styles.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["style", "emoji_set", "package", "version", "licence", "split", "images"])
        for s in SETS:
            images = sum(counts[s.style, e] for e in EMOTIONS)
            writer.writerow([s.style, s.emoji_set, s.package, s.version, s.licence,
                             split_of(s.style), images])
    used = {p.stem.split("_", 1)[1] for p in out.glob("*/*/*.png")}
    with open(out / "emoji.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["code", "name", "subcategory", "emotion", "why"])
        for e in sorted(EMOJI, key=lambda e: EMOTIONS.index(e.emotion)):
            if e.code in used:
                writer.writerow([e.code, e.name, e.subcategory, e.emotion, e.why])


def write_licences(texts: dict, out: Path) -> None:
    """Write LICENSES/<SPDX id>.txt: the full licence text, headed by the styles it covers."""
    (out / "LICENSES").mkdir(parents=True, exist_ok=True)
    for licence, text in texts.items():
        covered = [s for s in SETS if s.licence == licence]
        holders = sorted({s.authors for s in covered})
        if licence == "MIT":
            text = text.replace("Copyright (c) <year> <copyright holders>",
                                "Copyright (c) " + ", ".join(holders))
        what = ("covers the font these images are drawn with" if licence == "OFL-1.1"
                else "covers these images")
        head = [f"{SPDX_NAMES[licence]} ({licence}) {what} (emotions data):", ""]
        head += [f"- style `{s.style}`: {s.emoji_set}, (c) {s.authors}, "
                 f"npm {s.package}@{s.version}" for s in covered]
        head += ["", "Changes: rasterised or resized to 64x64 pixels (RGBA PNG).", "",
                 "=" * 72, "", text.strip(), ""]
        (out / "LICENSES" / f"{licence}.txt").write_text("\n".join(head), encoding="utf-8")


def counts_table(counts: Counter) -> list[str]:
    """Return markdown rows of image counts per style (with split) and class."""
    rows = ["| style | split | " + " | ".join(EMOTIONS) + " | total |",
            "|---|---|" + "---:|" * (len(EMOTIONS) + 1)]
    for s in SETS:
        cells = [counts[s.style, e] for e in EMOTIONS]
        rows.append(f"| {s.style} | {split_of(s.style)} | "
                    + " | ".join(map(str, cells + [sum(cells)])) + " |")
    for folder in "train", "test":
        cells = [sum(counts[s.style, e] for s in SETS
                     if (s.style in TEST_STYLES) == (folder == "test")) for e in EMOTIONS]
        rows.append(f"| **{folder}/** | | " + " | ".join(map(str, cells + [sum(cells)])) + " |")
    return rows


def split_counts(counts: Counter) -> dict[str, int]:
    """Return the number of images per split of styles.csv: train, valid and test."""
    return {split: sum(n for (style, _), n in counts.items() if split_of(style) == split)
            for split in ("train", "valid", "test")}


def attribution_md(counts: Counter, dropped: list[tuple[str, str]]) -> str:
    """Return the text of ATTRIBUTION.md."""
    n_codes = Counter(e.emotion for e in EMOJI)
    lines = [
        "# Emotion emoji dataset: sources and licences",
        "",
        f"{SIZE}x{SIZE} RGBA PNGs of face emoji in {len(EMOTIONS)} emotions, drawn by "
        f"{len(SETS)} emoji sets (styles). A file",
        "`<split>/<emotion>/<style>_<code>.png` is emoji `<code>` (code points) drawn in",
        "`<style>`. `emoji.csv` says which emoji went to which emotion and why; `styles.csv` lists",
        "the styles with their package, licence and default split.",
        "",
        "Changes made to the artwork: SVG sets were rasterised to 64x64 pixels with CairoSVG,",
        "raster sets resized to 64x64, the font's glyphs drawn in black. The alpha channel is",
        "kept; the colours are matted on white (flattened on white), so a plain conversion to RGB",
        "shows each face on white.",
        "Nothing else was changed. No Apple or Facebook artwork is included.",
        "",
        "Splits: `test/` holds the styles " + ", ".join(f"`{s}`" for s in TEST_STYLES)
        + ", which never appear in `train/`. Their artists",
        "draw the same emoji as the training styles, each in their own way; no two styles are",
        "near copies of each other. The styles marked `valid` in `styles.csv` sit in `train/`;",
        "they are the default validation styles, held out from training as whole styles.",
        "Single drawings that are near copies across a split were left out (see below).",
        "",
        "## Sets, authors and licences",
        "",
        "| style | emoji set | authors (copyright) | licence | npm package | split |",
        "|---|---|---|---|---|---|",
    ]
    for s in SETS:
        lines.append(f"| {s.style} | {s.emoji_set} | {s.authors} | {s.licence} "
                     f"| `{s.package}@{s.version}` | {split_of(s.style)} |")
    lines += ["", "Where each package states the artwork licence:", ""]
    for s in SETS:
        lines += textwrap.wrap(f"- `{s.style}`: {s.statement}.", width=96,
                               subsequent_indent="  ")
    lines += [
        "",
        "Full licence texts are in `LICENSES/` (from `{}@{}`, CC0-1.0).".format(*LICENCE_TEXTS),
        "",
        "Share-alike: the images of the CC-BY-SA-4.0 styles ("
        + ", ".join(f"`{s.style}`" for s in SETS if s.licence == "CC-BY-SA-4.0")
        + ") are adaptations",
        "(rasterised, resized) and are themselves licensed under CC-BY-SA-4.0: anyone who shares",
        "them, changed or not, must keep that licence and this attribution. Share-alike covers",
        "those image files only, not the other images or the course's code.",
        "",
        "Firefox OS Emoji (`fxemoji`) draws the cat faces as foxes; they keep the cat codes.",
        "",
        "## Image counts",
        "",
        *counts_table(counts),
        "",
        "Images per split in `styles.csv`: " + ", ".join(
            f"{split} {n}" for split, n in split_counts(counts).items()) + ".",
        "Emoji per class (codes): " + ", ".join(f"{e} {n_codes[e]}" for e in EMOTIONS) + ".",
        "",
        "## Images left out",
        "",
        "Exact duplicates within a style were dropped (the first in emoji order kept), and so was",
        f"every test or valid image whose perceptual hash (pHash) is within {NEAR_BITS} of 64 bits "
        "of",
        "the same emoji in a style on the other side of its split (test against train and valid,",
        "valid against train), so that no drawing sits on both sides:",
        "",
    ]
    for path, why in dropped:
        lines += textwrap.wrap(f"- `{path}`: {why}.", width=96, subsequent_indent="  ")
    if not dropped:
        lines.append("- none.")
    lines += [
        "",
        "## Sets left out",
        "",
    ]
    for name, why in REJECTED:
        lines += textwrap.wrap(f"- {name}: {why}.", width=96, subsequent_indent="  ")
    lines += ["", "Rebuild: `pip install -r tools/requirements-build.txt; "
              "python tools/build_emotions.py`.", ""]
    return "\n".join(lines)


def main() -> None:
    """Download the packages, rewrite the dataset and print a summary."""
    assert len({emoji_key(e.code) for e in EMOJI}) == len(EMOJI), "an emoji is listed twice"
    assert all("_" not in s.style and s.style == s.style.lower() for s in SETS)
    assert set(TEST_STYLES) | set(VALID_STYLES) <= {s.style for s in SETS}
    with tempfile.TemporaryDirectory() as tmp:
        sources, texts = fetch(Path(tmp))
    images, dropped = drop_duplicates(render_all(sources))
    for stale in NEW_DIR, OLD_DIR:  # left by an interrupted run
        if stale.exists():
            shutil.rmtree(stale)
    NEW_DIR.mkdir(parents=True)
    counts = write_images(images, NEW_DIR)
    write_csvs(counts, NEW_DIR)
    write_licences(texts, NEW_DIR)
    (NEW_DIR / "ATTRIBUTION.md").write_text(attribution_md(counts, dropped), encoding="utf-8")
    if OUT_DIR.exists():  # swap the finished folder in: readers see the old or the new one
        OUT_DIR.rename(OLD_DIR)
    NEW_DIR.rename(OUT_DIR)
    shutil.rmtree(OLD_DIR, ignore_errors=True)
    print("\n".join(counts_table(counts)))
    for s in SETS:
        missing = [e.code for e in EMOJI if emoji_key(e.code) not in sources[s.style]]
        if missing:
            print(f"{s.style} lacks {len(missing)}: {' '.join(missing)}")
    for path, why in dropped:
        print(f"dropped {path}: {why}")
    print(f"{sum(counts.values())} images; per split: " + ", ".join(
        f"{split} {n}" for split, n in split_counts(counts).items()))
    print(f"Wrote {OUT_DIR}")


if __name__ == "__main__":
    main()

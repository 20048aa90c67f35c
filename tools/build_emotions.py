"""Rebuild `finetune_course/data/emotions/` from openly licensed emoji packages on npm."""

import io
import json
import shutil
import subprocess
import tarfile
import tempfile
import textwrap
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

OUT_DIR = Path(__file__).resolve().parent.parent / "finetune_course" / "data" / "emotions"
SIZE = 64
TEST_VENDOR = "fluent"
LICENCE_TEXTS = ("spdx-license-list", "6.12.0")  # CC0 package with the full SPDX licence texts

# Each emoji belongs to exactly one class; faces whose reading is unclear are left out.
EMOTIONS = {
    "happy": [
        "1F600",  # grinning face
        "1F603",  # grinning face with big eyes
        "1F604",  # grinning face with smiling eyes
        "1F601",  # beaming face with smiling eyes
        "1F606",  # grinning squinting face
        "1F602",  # face with tears of joy
        "1F923",  # rolling on the floor laughing
        "1F642",  # slightly smiling face
        "1F60A",  # smiling face with smiling eyes
        "263A-FE0F",  # smiling face
        "1F970",  # smiling face with hearts
        "1F60D",  # smiling face with heart-eyes
        "1F929",  # star-struck
        "1F63A",  # grinning cat
        "1F638",  # grinning cat with smiling eyes
        "1F639",  # cat with tears of joy
        "1F63B",  # smiling cat with heart-eyes
    ],
    "sad": [
        "1F622",  # crying face
        "1F62D",  # loudly crying face
        "1F61E",  # disappointed face
        "1F614",  # pensive face
        "1F641",  # slightly frowning face
        "2639-FE0F",  # frowning face
        "1F625",  # sad but relieved face
        "1F61F",  # worried face
        "1F97A",  # pleading face
        "1F979",  # face holding back tears
        "1F613",  # downcast face with sweat
        "1F629",  # weary face
        "1F63F",  # crying cat
    ],
    "surprised": [
        "1F62E",  # face with open mouth
        "1F62F",  # hushed face
        "1F632",  # astonished face
        "1F631",  # face screaming in fear
        "1F628",  # fearful face
        "1F627",  # anguished face
        "1F633",  # flushed face
        "1F92F",  # exploding head
        "1FAE2",  # face with open eyes and hand over mouth
        "1F640",  # weary cat
    ],
    "angry": [
        "1F620",  # angry face
        "1F621",  # enraged face
        "1F92C",  # face with symbols on mouth
        "1F624",  # face with steam from nose
        "1F47F",  # angry face with horns
        "1F63E",  # pouting cat
    ],
    "confused": [
        "1F615",  # confused face
        "1F914",  # thinking face
        "1F928",  # face with raised eyebrow
        "1FAE4",  # face with diagonal mouth
        "1F9D0",  # face with monocle
        "1F635-200D-1F4AB",  # face with spiral eyes
        "1F974",  # woozy face
    ],
    "disgusted": [
        "1F922",  # nauseated face
        "1F92E",  # face vomiting
        "1F616",  # confounded face
        "1F612",  # unamused face
    ],
}


@dataclass(frozen=True)
class Vendor:
    """One emoji artwork set and the npm package it is taken from."""

    name: str
    package: str
    version: str
    image_dir: str  # folder in the tarball with one `<codepoints><suffix>` file per emoji
    suffix: str
    licence: str  # SPDX id of the artwork licence
    copyright: str
    attribution: str
    notice_files: tuple[str, ...]  # licence files in the tarball, copied verbatim
    readme_markers: tuple[str, ...]  # README lines containing one of these state the licence


VENDORS = [
    Vendor(
        name="google",
        package="emoji-datasource-google",
        version="16.0.0",
        image_dir="package/img/google/64/",
        suffix=".png",
        licence="Apache-2.0",
        copyright="Copyright Google LLC",
        attribution="Noto Emoji artwork, licensed under the Apache License 2.0.",
        notice_files=("package/LICENSE",),
        readme_markers=("Google/Noto images",),
    ),
    Vendor(
        name="twitter",
        package="emoji-datasource-twitter",
        version="16.0.0",
        image_dir="package/img/twitter/64/",
        suffix=".png",
        licence="CC-BY-4.0",
        copyright="Copyright Twitter, Inc and other contributors",
        attribution="Twemoji graphics, licensed under CC-BY 4.0.",
        notice_files=("package/LICENSE",),
        readme_markers=("Twitter images",),
    ),
    Vendor(
        name="emojione",
        package="emojione",
        version="2.2.7",
        image_dir="package/assets/png/",
        suffix=".png",
        licence="CC-BY-4.0",
        copyright="Copyright EmojiOne (Ranks.com)",
        attribution="Emoji artwork provided free by EmojiOne, licensed under CC-BY 4.0.",
        notice_files=("package/LICENSE.md",),
        readme_markers=(),
    ),
    Vendor(
        name="fluent",
        package="@lobehub/fluent-emoji-3d",
        version="1.1.0",
        image_dir="package/assets/",
        suffix=".webp",
        licence="MIT",
        copyright="Copyright (c) Microsoft Corporation",
        attribution="Fluent Emoji 3D artwork, licensed under MIT; packaged by LobeHub.",
        notice_files=(),
        readme_markers=("Copyright ©", "licensed."),
    ),
]


def emoji_key(codepoints: str) -> str:
    """Return a lookup key for a code point sequence: lowercase, variation selectors dropped."""
    return "-".join(part for part in codepoints.lower().split("-") if part != "fe0f")


def npm_pack(package: str, version: str, dest: Path) -> Path:
    """Download one npm package tarball into `dest` and return its path."""
    result = subprocess.run(
        ["npm", "pack", f"{package}@{version}", "--pack-destination", str(dest), "--json"],
        check=True,
        capture_output=True,
        text=True,
    )
    return dest / json.loads(result.stdout)[0]["filename"]


def read_vendor(vendor: Vendor, tarball: Path, wanted: set[str]) -> tuple[dict, dict]:
    """Read the wanted images (by emoji key) and the licence/README texts from a tarball."""
    images, texts = {}, {}
    text_names = set(vendor.notice_files) | {"package/README.md"}
    with tarfile.open(tarball) as tar:
        for member in tar:
            name = member.name
            if name in text_names:
                texts[name] = tar.extractfile(member).read().decode("utf-8")
                continue
            if not (name.startswith(vendor.image_dir) and name.endswith(vendor.suffix)):
                continue
            stem = name.removeprefix(vendor.image_dir).removesuffix(vendor.suffix)
            if "/" not in stem and emoji_key(stem) in wanted:
                images.setdefault(emoji_key(stem), {})[name] = tar.extractfile(member).read()
    chosen = {key: found[min(found)] for key, found in images.items()}
    return chosen, texts


def read_spdx_texts(tarball: Path) -> dict[str, str]:
    """Return the full text of each vendor's licence, keyed by SPDX id."""
    texts = {}
    with tarfile.open(tarball) as tar:
        for licence in sorted({v.licence for v in VENDORS}):
            entry = json.load(tar.extractfile(f"package/licenses/{licence}.json"))
            texts[licence] = entry["licenseText"]
    return texts


def to_rgb(data: bytes) -> Image.Image:
    """Flatten an emoji image onto white and resize it to SIZE x SIZE RGB."""
    with Image.open(io.BytesIO(data)) as image:
        rgba = image.convert("RGBA")
    white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    flat = Image.alpha_composite(white, rgba).convert("RGB")
    return flat.resize((SIZE, SIZE), Image.Resampling.LANCZOS)


def licence_text(vendor: Vendor, texts: dict, spdx_texts: dict) -> str:
    """Compose LICENSES/<vendor>.txt from the package's own notices and the full licence."""
    readme = texts.get("package/README.md", "")
    statements = [
        line.strip()
        for line in readme.splitlines()
        if any(marker in line for marker in vendor.readme_markers)
    ]
    full = spdx_texts[vendor.licence]
    if vendor.licence == "MIT":
        full = full.replace("Copyright (c) <year> <copyright holders>", vendor.copyright)
    parts = [
        f"Images of vendor `{vendor.name}` come from the npm package "
        f"{vendor.package}@{vendor.version}.\n"
        f"Artwork licence: {vendor.licence}. {vendor.copyright}.\n"
        f"Attribution: {vendor.attribution}\n"
        "Changes: flattened onto a white background and resized to 64x64 pixels."
    ]
    if statements:
        parts.append("Licence statement in the package README:\n\n" + "\n".join(statements))
    for name in vendor.notice_files:
        parts.append(
            f"Verbatim copy of {name.removeprefix('package/')} from the package:\n\n"
            + texts[name].strip()
        )
    if not vendor.notice_files:
        parts.append(
            f"The package ships no licence file; its package.json declares "
            f"{vendor.licence}, the licence of the original artwork."
        )
    parts.append(f"Full text of the {vendor.licence} licence:\n\n" + full.strip())
    return ("\n\n" + "=" * 72 + "\n\n").join(parts) + "\n"


def split_of(vendor: Vendor) -> str:
    """Return the split a vendor's images go to."""
    return "test" if vendor.name == TEST_VENDOR else "train"


def counts_table(counts: dict) -> list[str]:
    """Return markdown rows of image counts per class, vendor and split."""
    columns = [f"{v.name} ({split_of(v)})" for v in VENDORS] + ["train", "test"]
    rows = ["| emotion | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
    totals = [0] * len(columns)
    for emotion in EMOTIONS:
        per_vendor = [counts[emotion, v.name] for v in VENDORS]
        per_split = [
            sum(counts[emotion, v.name] for v in VENDORS if split_of(v) == split)
            for split in ("train", "test")
        ]
        cells = per_vendor + per_split
        totals = [t + c for t, c in zip(totals, cells, strict=True)]
        rows.append(f"| {emotion} | " + " | ".join(map(str, cells)) + " |")
    rows.append("| **total** | " + " | ".join(map(str, totals)) + " |")
    return rows


def attribution_md(counts: dict) -> str:
    """Return the text of ATTRIBUTION.md."""
    lines = [
        "# Emotion emoji dataset: sources and licences",
        "",
        f"{SIZE}x{SIZE} RGB PNGs of face emoji sorted into {len(EMOTIONS)} emotions, rebuilt by",
        "`tools/build_emotions.py` (which holds the emoji-to-emotion mapping). Every image was",
        "flattened onto a white background and resized; the artwork is otherwise unchanged.",
        f"The `test` split holds one held-out vendor (`{TEST_VENDOR}`), so it shows a drawing",
        "style that the training images never do. No Apple or Facebook artwork is included.",
        "",
        "| vendor | split | npm package | artwork licence | licence file |",
        "|---|---|---|---|---|",
    ]
    for v in VENDORS:
        lines.append(
            f"| {v.name} | {split_of(v)} | `{v.package}@{v.version}` | {v.licence} "
            f"| `LICENSES/{v.name}.txt` |"
        )
    lines += ["", "## Copyright and required attribution", ""]
    for v in VENDORS:
        item = f"- **{v.name}**: {v.copyright}. {v.attribution}"
        lines += textwrap.wrap(item, width=90, subsequent_indent="  ")
    lines += [
        "",
        f"Full licence texts come from `{LICENCE_TEXTS[0]}@{LICENCE_TEXTS[1]}` (CC0-1.0).",
        "",
        "## Image counts",
        "",
        *counts_table(counts),
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    """Download the packages, write the dataset and print a summary."""
    assert TEST_VENDOR in {v.name for v in VENDORS}
    codes = [code for emotion_codes in EMOTIONS.values() for code in emotion_codes]
    assert len({emoji_key(c) for c in codes}) == len(codes), "an emoji is in two classes"
    wanted = {emoji_key(c) for c in codes}
    with tempfile.TemporaryDirectory() as tmp:
        sources = {}
        for vendor in VENDORS:
            tarball = npm_pack(vendor.package, vendor.version, Path(tmp))
            sources[vendor.name] = read_vendor(vendor, tarball, wanted)
        spdx_texts = read_spdx_texts(npm_pack(*LICENCE_TEXTS, Path(tmp)))

    if OUT_DIR.exists():
        shutil.rmtree(OUT_DIR)
    (OUT_DIR / "LICENSES").mkdir(parents=True)
    counts, missing = {}, {}
    for vendor in VENDORS:
        images, texts = sources[vendor.name]
        for emotion, emotion_codes in EMOTIONS.items():
            folder = OUT_DIR / split_of(vendor) / emotion
            folder.mkdir(parents=True, exist_ok=True)
            counts[emotion, vendor.name] = 0
            for code in sorted(emotion_codes):
                data = images.get(emoji_key(code))
                if data is None:
                    missing.setdefault(vendor.name, []).append(code.lower())
                    continue
                to_rgb(data).save(folder / f"{vendor.name}_{code.lower()}.png", optimize=True)
                counts[emotion, vendor.name] += 1
        licence = licence_text(vendor, texts, spdx_texts)
        (OUT_DIR / "LICENSES" / f"{vendor.name}.txt").write_text(licence, encoding="utf-8")
    (OUT_DIR / "ATTRIBUTION.md").write_text(attribution_md(counts), encoding="utf-8")

    print("\n".join(counts_table(counts)))
    for name, codes_missing in sorted(missing.items()):
        print(f"{name} lacks: {' '.join(sorted(codes_missing))}")
    print(f"Wrote {OUT_DIR}")


if __name__ == "__main__":
    main()

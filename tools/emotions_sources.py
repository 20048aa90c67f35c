"""The emoji artwork sets of the emotions dataset: package, version, licence and authors.

Three kinds of npm packages are used (`emotions_read.py` reads and draws them):

- PNG/WebP sets (`ImageSet`): one raster file per emoji, named by its code points.
- SVG sets in Iconify JSON (`IconifySet`, packages `@iconify-json/*`): all icons in
  `package/icons.json`, the licence in `package/info.json`; rasterised here with cairosvg.
- A monochrome emoji font (`FontSet`, a `@fontsource/*` package of WOFF subsets): each emoji
  drawn with Pillow (FreeType, and libraqm for the ZWJ sequences).
"""

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ImageSet:
    """One emoji set shipped as raster files, one `<code points><suffix>` file per emoji."""

    style: str  # short lowercase name without '_', the file name prefix
    emoji_set: str  # the set's usual name
    package: str
    version: str
    licence: str  # SPDX id of the artwork licence
    authors: str  # copyright holder, as the licence asks to credit it
    image_dir: str
    suffix: str
    statement: str  # where the package states the artwork licence


@dataclass(frozen=True)
class IconifySet:
    """One emoji set shipped as SVG bodies in Iconify JSON."""

    style: str
    emoji_set: str
    package: str
    version: str
    licence: str
    authors: str
    statement: str = "`package/info.json` (field `license`)"
    names: dict = field(default_factory=dict)  # code -> icon name where the CLDR slug fails
    only_names: bool = False  # True: use `names` only (the set has no CLDR-style names)


@dataclass(frozen=True)
class FontSet:
    """One emoji set shipped as a font, split by fontsource into WOFF files by unicode range."""

    style: str
    emoji_set: str
    package: str
    version: str
    licence: str
    authors: str
    statement: str
    weight: int = 400


# Icon names of CLDR names that changed over the years (older sets use the older name).
OLD_NAMES = {
    "1f621": ["pouting-face"],
    "1f917": ["hugging-face"],
    "1f92c": ["serious-face-with-symbols-covering-mouth"],
}

# Firefox OS emoji have names of their own; only faces whose reading is clear are mapped.
# Its cat emoji are drawn as foxes: the clear ones are kept.
FXEMOJI_NAMES = {
    "1f600": "grin", "1f601": "grineyes", "1f602": "grintears", "1f603": "grinwide",
    "1f604": "grinwideeyes", "1f605": "grinsweat", "1f606": "grinsquint", "1f607": "halo",
    "1f609": "winking", "1f60a": "smileeyes", "1f60b": "smiletongue", "1f60d": "hearteyes",
    "1f60e": "sunglasses", "1f642": "smallsmile", "263a-fe0f": "whitesmilingface",
    "1f638": "foxgrin", "1f63a": "foxsmiling", "1f639": "foxtearofjoy", "1f63b": "foxheart",
    "1f640": "foxweary",
    "1f622": "crying", "1f62d": "loudlycrying", "1f61e": "disappointed", "1f614": "pensive",
    "1f641": "smallfrown", "1f625": "dissapointedrelief", "1f61f": "worried",
    "1f613": "sweat", "1f629": "weary", "1f62b": "tired",
    "1f62e": "openmouth", "1f62f": "hushed", "1f631": "screamfear", "1f628": "fearful",
    "1f627": "anguish", "1f626": "frownmouth", "1f633": "flushed",
    "1f620": "angry", "1f621": "pouting", "1f624": "triumph", "1f47f": "imp",
    "1f615": "confused",
    "1f612": "unamused", "1f616": "confounded",
}

# Streamline uses CLDR names for most faces, a few under names of its own.
STREAMLINE_NAMES = {"1f630": "anxious-face", "1f62f": "hushed-face-1"}

SETS = [
    ImageSet(
        style="google", emoji_set="Noto Emoji (Google)", package="emoji-datasource-google",
        version="16.0.0", licence="Apache-2.0", authors="Google LLC",
        image_dir="package/img/google/64/", suffix=".png",
        statement="package README: 'Android/Google/Noto images, are available under the Apache "
                  "License 2.0'",
    ),
    ImageSet(
        style="twitter", emoji_set="Twemoji", package="emoji-datasource-twitter",
        version="16.0.0", licence="CC-BY-4.0",
        authors="Twitter, Inc and other contributors",
        image_dir="package/img/twitter/64/", suffix=".png",
        statement="package README: 'Twitter images are available under the Creative Commons "
                  "Attribution 4.0 license'",
    ),
    ImageSet(
        style="emojione", emoji_set="EmojiOne 2.2.7", package="emojione", version="2.2.7",
        licence="CC-BY-4.0", authors="EmojiOne (Ranks.com)",
        image_dir="package/assets/png/", suffix=".png",
        statement="package LICENSE.md: 'EmojiOne Artwork ... License: Creative Commons "
                  "Attribution 4.0 International'; emoji artwork provided free by EmojiOne",
    ),
    IconifySet(
        style="emojionemono", emoji_set="EmojiOne Monotone 2.2.7",
        package="@iconify-json/emojione-monotone", version="1.2.1", licence="CC-BY-4.0",
        authors="EmojiOne (Ranks.com)",
    ),
    IconifySet(
        style="notoblob", emoji_set="Noto Emoji v1 (the 'blob' faces)",
        package="@iconify-json/noto-v1", version="1.2.5", licence="Apache-2.0",
        authors="Google Inc.",
    ),
    FontSet(
        style="notomono", emoji_set="Noto Emoji (monochrome font)",
        package="@fontsource/noto-emoji", version="5.3.2", licence="OFL-1.1",
        authors="Google LLC",
        statement="package LICENSE: SIL Open Font License 1.1 (covers the font; the images are "
                  "drawings made with it)",
    ),
    IconifySet(
        style="fxemoji", emoji_set="Firefox OS Emoji", package="@iconify-json/fxemoji",
        version="1.2.2", licence="Apache-2.0", authors="Mozilla Foundation",
        names=FXEMOJI_NAMES, only_names=True,
    ),
    IconifySet(
        style="streamline", emoji_set="Streamline Emojis",
        package="@iconify-json/streamline-emojis", version="1.2.4", licence="CC-BY-4.0",
        authors="Streamline (webalys)", names=STREAMLINE_NAMES,
    ),
    IconifySet(
        style="openmoji", emoji_set="OpenMoji", package="@iconify-json/openmoji",
        version="1.2.29", licence="CC-BY-SA-4.0",
        authors="OpenMoji, HfG Schwäbisch Gmünd and contributors",
    ),
    IconifySet(
        style="emojionev1", emoji_set="EmojiOne v1 (1.5.2)", package="@iconify-json/emojione-v1",
        version="1.2.3", licence="CC-BY-SA-4.0", authors="EmojiOne (Ranks.com)",
    ),
    IconifySet(
        style="fluenthc", emoji_set="Fluent Emoji High Contrast",
        package="@iconify-json/fluent-emoji-high-contrast", version="1.2.6", licence="MIT",
        authors="Microsoft Corporation",
    ),
    ImageSet(
        style="fluent3d", emoji_set="Fluent Emoji 3D", package="@lobehub/fluent-emoji-3d",
        version="1.1.0", licence="MIT", authors="Microsoft Corporation",
        image_dir="package/assets/", suffix=".webp",
        statement="package.json: MIT (the licence of Microsoft's Fluent Emoji artwork)",
    ),
]

LICENCE_TEXTS = ("spdx-license-list", "6.12.0")  # CC0 package with the full SPDX licence texts

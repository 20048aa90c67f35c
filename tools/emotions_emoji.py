"""Which face emoji go into which emotion class, and why: the one mapping table of the dataset.

`build_emotions.py` writes this table to `emoji.csv` beside the images. Each emoji belongs to
exactly one class. Faces whose reading is unclear are left out on purpose, for example
upside-down face, face with tongue, zany, kissing face, smirking, grimacing, neutral,
sleepy, unwell faces other than nauseated and vomiting, and the costume faces.
"""

from typing import NamedTuple


class Emoji(NamedTuple):
    """One face emoji: code point sequence, CLDR name, Unicode subcategory, class and reason."""

    code: str  # lowercase code points joined by '-', e.g. '263a-fe0f'
    name: str  # CLDR short name; its slug is the icon name in the Iconify sets
    subcategory: str
    emotion: str
    why: str


EMOJI = [
    # happy: a smile or laughter is the main feature
    Emoji("1f600", "grinning face", "face-smiling", "happy", "broad open smile"),
    Emoji("1f603", "grinning face with big eyes", "face-smiling", "happy", "open-mouthed smile"),
    Emoji("1f604", "grinning face with smiling eyes", "face-smiling", "happy",
          "open smile with smiling eyes"),
    Emoji("1f601", "beaming face with smiling eyes", "face-smiling", "happy", "beaming grin"),
    Emoji("1f606", "grinning squinting face", "face-smiling", "happy",
          "laughing, eyes squeezed shut"),
    Emoji("1f605", "grinning face with sweat", "face-smiling", "happy",
          "broad grin; the drop is relief"),
    Emoji("1f923", "rolling on the floor laughing", "face-smiling", "happy",
          "laughing with tears"),
    Emoji("1f602", "face with tears of joy", "face-smiling", "happy", "laughing until crying"),
    Emoji("1f642", "slightly smiling face", "face-smiling", "happy", "gentle smile"),
    Emoji("1f609", "winking face", "face-smiling", "happy", "smile with a playful wink"),
    Emoji("1f60a", "smiling face with smiling eyes", "face-smiling", "happy",
          "warm smile, rosy cheeks"),
    Emoji("1f607", "smiling face with halo", "face-smiling", "happy", "serene smile"),
    Emoji("1f970", "smiling face with hearts", "face-affection", "happy",
          "smile surrounded by hearts"),
    Emoji("1f60d", "smiling face with heart-eyes", "face-affection", "happy",
          "adoring smile, heart eyes"),
    Emoji("1f929", "star-struck", "face-affection", "happy", "grin with star eyes"),
    Emoji("1f618", "face blowing a kiss", "face-affection", "happy",
          "wink and kiss: warm affection"),
    Emoji("263a-fe0f", "smiling face", "face-affection", "happy", "contented smile"),
    Emoji("1f61a", "kissing face with closed eyes", "face-affection", "happy",
          "blissful closed eyes and a kiss"),
    Emoji("1f619", "kissing face with smiling eyes", "face-affection", "happy",
          "smiling eyes and a kiss"),
    Emoji("1f60c", "relieved face", "face-sleepy", "happy", "content closed-eye smile"),
    Emoji("1f61c", "winking face with tongue", "face-tongue", "happy",
          "playful wink, joking"),
    Emoji("1f61d", "squinting face with tongue", "face-tongue", "happy",
          "giddy laugh, eyes squeezed shut"),
    Emoji("1f60b", "face savoring food", "face-tongue", "happy",
          "delighted smile, licking lips"),
    Emoji("1f917", "smiling face with open hands", "face-hand", "happy",
          "smile with open arms"),
    Emoji("1f973", "partying face", "face-hat", "happy", "celebrating"),
    Emoji("1f920", "cowboy hat face", "face-hat", "happy", "broad smile under a hat"),
    Emoji("1f60e", "smiling face with sunglasses", "face-glasses", "happy",
          "confident smile"),
    Emoji("1f63a", "grinning cat", "cat-face", "happy", "cat version of grinning face"),
    Emoji("1f638", "grinning cat with smiling eyes", "cat-face", "happy",
          "cat version of beaming grin"),
    Emoji("1f639", "cat with tears of joy", "cat-face", "happy", "cat laughing until crying"),
    Emoji("1f63b", "smiling cat with heart-eyes", "cat-face", "happy",
          "cat smile with heart eyes"),
    Emoji("1f63d", "kissing cat", "cat-face", "happy", "cat with closed eyes and a kiss"),
    # sad: tears, a frown or downcast eyes
    Emoji("1f622", "crying face", "face-concerned", "sad", "a tear running down"),
    Emoji("1f62d", "loudly crying face", "face-concerned", "sad", "streams of tears"),
    Emoji("1f61e", "disappointed face", "face-concerned", "sad", "downcast eyes and frown"),
    Emoji("1f614", "pensive face", "face-sleepy", "sad", "dejected, downcast eyes"),
    Emoji("1f641", "slightly frowning face", "face-concerned", "sad", "a frown"),
    Emoji("2639-fe0f", "frowning face", "face-concerned", "sad", "a deep frown"),
    Emoji("1f625", "sad but relieved face", "face-concerned", "sad",
          "frown with a drop of sweat"),
    Emoji("1f61f", "worried face", "face-concerned", "sad", "frown with raised inner brows"),
    Emoji("1f97a", "pleading face", "face-concerned", "sad", "teary, pleading eyes"),
    Emoji("1f979", "face holding back tears", "face-concerned", "sad", "tears welling up"),
    Emoji("1f613", "downcast face with sweat", "face-concerned", "sad",
          "downcast eyes, dejected"),
    Emoji("1f629", "weary face", "face-concerned", "sad", "distressed frown, closed eyes"),
    Emoji("1f62b", "tired face", "face-concerned", "sad",
          "distressed frown, like weary face"),
    Emoji("1f63f", "crying cat", "cat-face", "sad", "cat with a tear"),
    # surprised: wide eyes and an open mouth (shock and fright included)
    Emoji("1f62e", "face with open mouth", "face-concerned", "surprised", "mouth open in surprise"),
    Emoji("1f62f", "hushed face", "face-concerned", "surprised",
          "raised brows, small open mouth"),
    Emoji("1f632", "astonished face", "face-concerned", "surprised", "wide eyes, gaping mouth"),
    Emoji("1f631", "face screaming in fear", "face-concerned", "surprised",
          "shock, hands on cheeks"),
    Emoji("1f628", "fearful face", "face-concerned", "surprised", "fright, open mouth"),
    Emoji("1f627", "anguished face", "face-concerned", "surprised",
          "shocked dismay, open mouth"),
    Emoji("1f626", "frowning face with open mouth", "face-concerned", "surprised",
          "shocked dismay, open mouth"),
    Emoji("1f630", "anxious face with sweat", "face-concerned", "surprised",
          "alarm, open mouth (as fearful face)"),
    Emoji("1f633", "flushed face", "face-concerned", "surprised", "wide-eyed shock, blushing"),
    Emoji("1f92f", "exploding head", "face-unwell", "surprised", "mind blown"),
    Emoji("1fae2", "face with open eyes and hand over mouth", "face-hand", "surprised",
          "a gasp behind the hand"),
    Emoji("1fae8", "shaking face", "face-neutral-skeptical", "surprised",
          "shaken with shock"),
    Emoji("1f640", "weary cat", "cat-face", "surprised",
          "cat screaming, paws on cheeks"),
    # angry: lowered brows, a scowl, red face or steam
    Emoji("1f620", "angry face", "face-negative", "angry", "scowl and lowered brows"),
    Emoji("1f621", "enraged face", "face-negative", "angry", "red with rage"),
    Emoji("1f92c", "face with symbols on mouth", "face-negative", "angry",
          "cursing, red face"),
    Emoji("1f624", "face with steam from nose", "face-negative", "angry",
          "huffing steam in frustration"),
    Emoji("1f47f", "angry face with horns", "face-negative", "angry", "scowling imp"),
    Emoji("1f63e", "pouting cat", "cat-face", "angry", "cat scowling"),
    # confused: puzzled, skeptical or disoriented
    Emoji("1f615", "confused face", "face-concerned", "confused", "puzzled, skewed mouth"),
    Emoji("1f914", "thinking face", "face-hand", "confused", "pondering, hand on chin"),
    Emoji("1f928", "face with raised eyebrow", "face-neutral-skeptical", "confused",
          "skeptical raised brow"),
    Emoji("1fae4", "face with diagonal mouth", "face-concerned", "confused",
          "unsure, slanted mouth"),
    Emoji("1f9d0", "face with monocle", "face-glasses", "confused",
          "scrutinising, one brow raised"),
    Emoji("1f635-200d-1f4ab", "face with spiral eyes", "face-unwell", "confused",
          "dizzy, disoriented"),
    Emoji("1f974", "woozy face", "face-unwell", "confused", "dazed, uneven eyes"),
    Emoji("1f636-200d-1f32b-fe0f", "face in clouds", "face-neutral-skeptical", "confused",
          "foggy-headed, cannot think clearly"),
    # disgusted: revulsion, nausea or contempt
    Emoji("1f922", "nauseated face", "face-unwell", "disgusted",
          "green and queasy: revulsion"),
    Emoji("1f92e", "face vomiting", "face-unwell", "disgusted", "vomiting: strongest revulsion"),
    Emoji("1f612", "unamused face", "face-neutral-skeptical", "disgusted",
          "side-eye: displeased contempt"),
    Emoji("1f644", "face with rolling eyes", "face-neutral-skeptical", "disgusted",
          "eye-roll: contempt, disdain"),
    Emoji("1f616", "confounded face", "face-concerned", "disgusted",
          "scrunched eyes, twisted mouth: 'ugh'"),
    Emoji("1f623", "persevering face", "face-concerned", "disgusted",
          "scrunched eyes, clenched mouth: 'ugh', as confounded face"),
]

EMOTIONS = ("angry", "confused", "disgusted", "happy", "sad", "surprised")


def emoji_key(code: str) -> str:
    """Return a lookup key for a code point sequence: lowercase, variation selectors dropped."""
    return "-".join(part for part in code.lower().split("-") if part != "fe0f")

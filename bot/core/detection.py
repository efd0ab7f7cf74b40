"""Detect the language of a participant's free text, or abstain.

Families answer with one word or a short phrase, and many short replies carry
no language at all ("OK", "5", an emoji) or belong to several languages ("No",
"Hora"). The detector therefore answers only when the evidence points to one
of the district's languages, and otherwise returns None so that the
participant's sticky language stands.

How a text is decided:

1. No letters, or only one-letter words ("A", "b)"): abstain.
2. Letters of a configured non-Latin script decide among the configured
   languages written in it: Hangul is Korean, kana Japanese, Han alone
   Chinese. Languages sharing a script are first narrowed by alphabet (і is
   Ukrainian, not Russian), then told apart by lingua restricted to them.
3. Latin text: a single word that is everyday vocabulary in two languages
   ("OK", "Tipo") abstains. Otherwise each configured Latin language gets a
   score that adds
   - how common each word is in that language (wordfreq's Zipf scale),
     counting a word typed without its accents as every accented word it
     may stand for ("khong" is không, "tro giup" trợ giúp; "dưng" may be
     dừng but "đúng" is not dung),
   - lingua's confidence, restricted to these languages, as log10,
   - a penalty for each mark outside the language's alphabet (ñ is not
     French, ơ is only Vietnamese),
   and the best language answers only when it leads the runner-up by a
   margin. lingua learnt languages as they are written, so a text whose
   words some language writes with accents, typed without any, weighs it
   less; lingua is not asked at all when the words alone leave no doubt.

A part that knows nothing of a configured language (lingua has no Haitian
Creole) gives it a neutral value rather than a vote. Where wordfreq has no
list (Somali, Haitian Creole), the language's file in bot/languages gives
its most common words, ranked; their Zipf values follow Zipf's law from the
rank. Tagalog uses its file too: wordfreq's Filipino list is half English.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol

import wordfreq
from lingua import IsoCode639_1, Language, LanguageDetectorBuilder
from lingua import LanguageDetector as LinguaDetector

from bot.core.keywords import fits, fold
from bot.core.vocabulary import language_pack

__all__ = [
    "DETECTORS",
    "LanguageDetector",
    "LinguaOnlyDetector",
    "ScriptVocabularyDetector",
    "build_detector",
]

LATIN = "LATIN"

# A script is the first word of a letter's Unicode name, except these.
_SCRIPT_ALIASES = {
    "CJK": "HAN",
    "HIRAGANA": "KANA",
    "KATAKANA": "KANA",
    "KATAKANA-HIRAGANA": "KANA",
}

# Scripts of the languages not written in Latin. The first script identifies
# the language: Han alone is Chinese, Han with kana can only be Japanese.
LANGUAGE_SCRIPTS: dict[str, tuple[str, ...]] = {
    "zh": ("HAN",),
    "ja": ("KANA", "HAN"),
    "ko": ("HANGUL", "HAN"),
    **dict.fromkeys(("ru", "uk", "be", "bg", "mk", "sr", "kk", "ky", "mn", "tg"), ("CYRILLIC",)),
    **dict.fromkeys(("ar", "fa", "ur", "ps", "ckb", "sd", "ug"), ("ARABIC",)),
    **dict.fromkeys(("he", "yi"), ("HEBREW",)),
    "el": ("GREEK",),
    **dict.fromkeys(("hi", "mr", "ne"), ("DEVANAGARI",)),
    "bn": ("BENGALI",),
    "pa": ("GURMUKHI",),
    "gu": ("GUJARATI",),
    "ta": ("TAMIL",),
    "te": ("TELUGU",),
    "kn": ("KANNADA",),
    "ml": ("MALAYALAM",),
    "si": ("SINHALA",),
    "th": ("THAI",),
    "lo": ("LAO",),
    "km": ("KHMER",),
    "my": ("MYANMAR",),
    "ka": ("GEORGIAN",),
    "hy": ("ARMENIAN",),
    **dict.fromkeys(("am", "ti"), ("ETHIOPIC",)),
}

# Marks beyond a-z in each language's everyday spelling; ¿ and ¡ are only
# Spanish. A Latin language missing here is never penalised.
ALPHABETS: dict[str, str] = {
    "en": "",
    "es": "áéíóúüñ¿¡",
    "pt": "áâãàçéêíóôõúü",
    "fr": "àâæçéèêëîïôœùûüÿ",
    "vi": "àáảãạăằắẳẵặâầấẩẫậđèéẻẽẹêềếểễệìíỉĩịòóỏõọôồốổỗộơờớởỡợùúủũụưừứửữựỳýỷỹỵ",
    "ht": "èò",
    "so": "",
    "sw": "",
    "id": "",
    "ms": "",
    "tl": "ñ",
    "de": "äöüß",
    "it": "àèéìíîòóù",
    "nl": "éèëïóöü",
    "ca": "àçéèíïòóúü",
    "ro": "ăâîșşțţ",
    "pl": "ąćęłńóśźż",
    "cs": "áčďéěíňóřšťúůýž",
    "sk": "áäčďéíĺľňóôŕšťúýž",
    "hu": "áéíóöőúüű",
    "tr": "çğıöşüâî",
    "sv": "åäöé",
    "da": "æøåé",
    "nb": "æøåéèô",
    "fi": "äöå",
}
_MARKS_OUTSIDE_LETTERS = "¿¡"

# Complete lowercase alphabets of languages sharing the Cyrillic script, so
# that Ukrainian "Дякую" (with і, ї, є, ґ elsewhere) is never taken for Russian.
CYRILLIC_ALPHABETS: dict[str, str] = {
    "ru": "абвгдеёжзийклмнопрстуфхцчшщъыьэюя",
    "uk": "абвгґдеєжзиіїйклмнопрстуфхцчшщьюя",
    "be": "абвгдеёжзійклмнопрстуўфхцчшыьэюя",
    "bg": "абвгдежзийклмнопрстуфхцчшщъьюя",
    "sr": "абвгдђежзијклљмнњопрстћуфхцчџш",
    "mk": "абвгдѓежзѕијклљмнњопрстќуфхцчџш",
    "kk": "аәбвгғдеёжзийкқлмнңоөпрстуұүфхһцчшщъыіьэюя",
    "ky": "абвгдеёжзийклмнңоөпрстуүфхцчшщъыьэюя",
    "mn": "абвгдеёжзийклмноөпрстуүфхцчшщъыьэюя",
    "tg": "абвгғдеёжзиӣйкқлмнопрстуӯфхҳчҷшъэюя",
}

# Tuned on the even lines of the dev sets (short_texts_dev.jsonl, and
# short_texts_unaccented_dev.jsonl for the UNACCENTED_ values), checked on the
# odd ones (benchmarks/language.py --half odd).
WORD_FLOOR = 0.25  # Zipf value given to a word a vocabulary lacks
ALPHABET_PENALTY = 5.0  # per mark outside a language's alphabet
LINGUA_WEIGHT = 1.5  # weight of log10(lingua confidence)
UNACCENTED_LINGUA_WEIGHT = 0.25  # ...for a text typed without its accents
LINGUA_FLOOR = 1e-3  # lowest confidence counted, so lingua alone cannot veto
WORD_MARGIN = 0.75  # lead over the runner-up needed for a one-word text
UNACCENTED_WORD_MARGIN = 0.25  # ...for a word typed without its accents
PHRASE_MARGIN = 0.25  # lead needed for a longer text
SHARED_ZIPF = 3.5  # a word this common in two languages...
SHARED_GAP = 0.5  # ...and this close in frequency is shared: abstain
SCRIPT_LEAD = 2.0  # confidence ratio needed between languages of one script
LINGUA_CONFIDENT = 0.3  # LinguaOnlyDetector: measured best on the dev file (0.0 to 0.8)

_WORD = re.compile(r"[^\W\d_]+")
# Zipf value of a language file's most common word; the n-th gets log10(n) less.
TOP_WORD_ZIPF = 7.5


@dataclass(frozen=True, slots=True)
class _WordScores:
    # Per configured Latin language: the word's Zipf score, accents left out or not.
    scores: tuple[float, ...]
    # Some language writes it mostly with accents: it was typed without them.
    lacks_accents: bool


class LanguageDetector(Protocol):
    """Anything that names the language of a text, or abstains."""

    def detect(self, text: str) -> str | None:
        """Return the language code of `text`, or None when it is not clear."""
        ...


def build_detector(languages: Sequence[str], kind: str = "words") -> LanguageDetector:
    """Build the detector `kind` (a key of DETECTORS) for a district's language codes.

    Loads every model now, so the first message pays no loading cost. Codes
    that no part knows (say, "ht") are accepted and never raise.
    """
    try:
        return DETECTORS[kind](languages)
    except KeyError as error:
        raise ValueError(f"no detector {kind!r}; use one of: {', '.join(DETECTORS)}") from error


class ScriptVocabularyDetector:
    """Script first; then word frequencies, lingua and alphabets for Latin text."""

    def __init__(self, languages: Sequence[str]) -> None:
        self.languages = tuple(
            dict.fromkeys(code.strip().lower() for code in languages if code.strip())
        )
        self._latin = tuple(code for code in self.languages if code not in LANGUAGE_SCRIPTS)
        self._by_script: dict[str, tuple[str, ...]] = {}
        for code in self.languages:
            for script in LANGUAGE_SCRIPTS.get(code, ()):
                self._by_script[script] = (*self._by_script.get(script, ()), code)
        self._script_lingua = {
            script: _lingua_detector(codes) for script, codes in self._by_script.items()
        }
        self._latin_lingua = _lingua_detector(self._latin)
        self._vocabularies = {code: _vocabulary(code) for code in self._latin}
        self._unaccented = {code: _unaccented_vocabulary(code) for code in self._latin}
        # Bounded, since participants can send any word.
        self._word_scores: Callable[[str], _WordScores] = lru_cache(maxsize=65536)(self._score_word)

    def detect(self, text: str) -> str | None:
        """Return the language code of `text`, or None when it is not clear."""
        text = _readable(text)
        scripts = Counter(script for char in text if (script := _script_of(char)) is not None)
        configured = {script: n for script, n in scripts.items() if script in self._by_script}
        if configured:
            return self._detect_in_script(text, configured)
        if scripts[LATIN] and self._latin:
            return self._detect_latin(text)
        return None

    def _detect_in_script(self, text: str, scripts: dict[str, int]) -> str | None:
        # Latin words inside Korean or Russian text are mostly technical terms,
        # so a configured non-Latin script outvotes Latin.
        dominant = max(scripts, key=scripts.__getitem__)
        written_in = self._by_script[dominant]
        covering = [code for code in written_in if set(scripts) <= set(LANGUAGE_SCRIPTS[code])]
        candidates = covering or list(written_in)
        candidates = [
            code for code in candidates if LANGUAGE_SCRIPTS[code][0] == dominant
        ] or candidates
        letters = {char for char in text.casefold() if _script_of(char) == dominant}
        candidates = [code for code in candidates if _can_spell(code, letters)]
        if not candidates:
            return None
        if len(candidates) == 1:
            return candidates[0]
        confidences = _lingua_confidences(self._script_lingua[dominant], candidates, text)
        best, runner_up = sorted(confidences, key=confidences.__getitem__, reverse=True)[:2]
        if confidences[best] < SCRIPT_LEAD * confidences[runner_up]:
            return None
        return best

    def _detect_latin(self, text: str) -> str | None:
        lowered = text.casefold()
        words = _WORD.findall(lowered)
        # Lone letters are answer choices and initials, not language.
        if all(len(word) == 1 for word in words):
            return None
        if len(self._latin) == 1:
            return self._latin[0]
        marks = [
            char
            for char in lowered
            if not char.isascii() and (char in _MARKS_OUTSIDE_LETTERS or _script_of(char) == LATIN)
        ]
        foreign = [_foreign_marks(code, marks) for code in self._latin]
        if len(words) == 1 and self._is_shared(words[0], foreign):
            return None
        scores = [-ALPHABET_PENALTY * count for count in foreign]
        lacks_accents = False
        for word in words:
            found = self._word_scores(word)
            lacks_accents = lacks_accents or found.lacks_accents
            for index, score in enumerate(found.scores):
                scores[index] += score
        typed_without_accents = lacks_accents and not marks
        # lingua learnt each language as it is written, and is easily misled by
        # a text typed without accents ("khong biet").
        weight = UNACCENTED_LINGUA_WEIGHT if typed_without_accents else LINGUA_WEIGHT
        if len(words) > 1:
            margin = PHRASE_MARGIN
        else:
            margin = UNACCENTED_WORD_MARGIN if typed_without_accents else WORD_MARGIN
        # lingua can take at most `swing` off the leader: past that, it need not be asked.
        swing = -weight * math.log10(LINGUA_FLOOR)
        best, runner_up = _top_two(scores)
        if scores[best] - scores[runner_up] >= margin + swing:
            return self._latin[best]
        confidences = _lingua_confidences(self._latin_lingua, self._latin, text)
        for index, code in enumerate(self._latin):
            scores[index] += weight * math.log10(max(confidences[code], LINGUA_FLOOR))
        best, runner_up = _top_two(scores)
        if scores[best] - scores[runner_up] < margin:
            return None
        return self._latin[best]

    def _is_shared(self, word: str, foreign: Sequence[int]) -> bool:
        # Everyday vocabulary in two languages ("OK", "Hotel") says nothing,
        # however confident lingua's letter statistics are; but "¿Eliminar?"
        # can only be Spanish, so languages that cannot spell it take no part.
        scores = [
            score
            for score, marks in zip(self._word_scores(word).scores, foreign, strict=True)
            if not marks
        ]
        if len(scores) < 2:
            return False
        first, second = sorted(scores, reverse=True)[:2]
        return second >= SHARED_ZIPF and first - second < SHARED_GAP

    def _score_word(self, word: str) -> _WordScores:
        # A word typed without its accents ("khong" for "không") counts as the
        # accented words it stands for too ("dung": dừng, đúng, dùng...).
        bare = fold(word)
        scores = []
        lacks_accents = False
        for code in self._latin:
            vocabulary = self._vocabularies[code]
            if vocabulary is None:
                scores.append(WORD_FLOOR)
                continue
            written = vocabulary.get(word, 0.0)
            total, accented_words = self._unaccented[code].get(bare, _NO_ACCENTED_WORDS)
            # A word of plain letters may stand for any of them; a lone letter is only itself.
            if word == bare and len(word) > 1:
                stands_for = total
            else:
                stands_for = sum(
                    frequency
                    for accented, frequency in accented_words
                    if accented != word and fits(word, accented)
                )
            lacks_accents = lacks_accents or stands_for > written
            scores.append(max(_zipf(written + stands_for), WORD_FLOOR))
        return _WordScores(tuple(scores), lacks_accents)


class LinguaOnlyDetector:
    """lingua alone, restricted to the configured languages it knows.

    For comparison (`benchmarks/language.py --detector lingua`) and as a
    fallback: it answers when lingua is LINGUA_CONFIDENT sure, and abstains
    on texts without letters or of lone letters, like the default.
    """

    def __init__(self, languages: Sequence[str]) -> None:
        codes = [code.strip().lower() for code in languages if code.strip()]
        self._known = [code for code in dict.fromkeys(codes) if _lingua_language(code) is not None]
        self._lingua = _lingua_detector(self._known)

    def detect(self, text: str) -> str | None:
        """Return the language code of `text`, or None when it is not clear."""
        text = _readable(text)
        words = _WORD.findall(text.casefold())
        if not words or all(len(word) == 1 for word in words):
            return None
        if self._lingua is None:
            return self._known[0] if len(self._known) == 1 else None
        confidences = self._lingua.compute_language_confidence_values(text)
        if not confidences or confidences[0].value < LINGUA_CONFIDENT:
            return None
        return confidences[0].language.iso_code_639_1.name.lower()


# The detectors a district may choose (ENGAGE_LANGUAGE_DETECTOR), by name.
DETECTORS: dict[str, Callable[[Sequence[str]], LanguageDetector]] = {
    "words": ScriptVocabularyDetector,
    "lingua": LinguaOnlyDetector,
}


# Lone surrogates cannot cross into lingua's Rust code; full-width letters are letters.
def _readable(text: str) -> str:
    return unicodedata.normalize("NFKC", text.encode("utf-8", "replace").decode("utf-8"))


@lru_cache(maxsize=8192)
def _script_of(char: str) -> str | None:
    if not char.isalpha():
        return None
    first_word = unicodedata.name(char, "UNKNOWN").split(" ", 1)[0]
    return _SCRIPT_ALIASES.get(first_word, first_word)


def _foreign_marks(code: str, marks: Sequence[str]) -> int:
    alphabet = ALPHABETS.get(code)
    return 0 if alphabet is None else sum(char not in alphabet for char in marks)


def _can_spell(code: str, letters: set[str]) -> bool:
    alphabet = CYRILLIC_ALPHABETS.get(code)
    return alphabet is None or letters <= set(alphabet)


def _top_two(scores: Sequence[float]) -> tuple[int, int]:
    first, second = sorted(range(len(scores)), key=scores.__getitem__, reverse=True)[:2]
    return first, second


def _zipf(frequency: float) -> float:
    # wordfreq's Zipf scale: log10 of uses per billion words.
    return math.log10(frequency) + 9 if frequency > 0 else 0.0


# Word -> frequency, from wordfreq or from the language file's common words (by rank).
@lru_cache(maxsize=32)
def _vocabulary(code: str) -> dict[str, float] | None:
    if code in wordfreq.available_languages():
        return wordfreq.get_frequency_dict(code)
    pack = language_pack(code)
    common = pack.words["common_words"] if pack is not None else ()
    if not common:
        return None
    return {
        word.casefold(): 10 ** (TOP_WORD_ZIPF - 9) / rank for rank, word in enumerate(common, 1)
    }


# Unaccented form -> the total frequency of the accented words that fold to it,
# and those words with their frequencies.
AccentedWords = tuple[float, tuple[tuple[str, float], ...]]
_NO_ACCENTED_WORDS: AccentedWords = (0.0, ())


@lru_cache(maxsize=32)
def _unaccented_vocabulary(code: str) -> dict[str, AccentedWords]:
    unaccented: dict[str, list[tuple[str, float]]] = {}
    for word, frequency in (_vocabulary(code) or {}).items():
        if not word.isascii() and (bare := fold(word)) != word:
            unaccented.setdefault(bare, []).append((word, frequency))
    return {
        bare: (sum(frequency for _, frequency in words), tuple(words))
        for bare, words in unaccented.items()
    }


def _lingua_language(code: str) -> Language | None:
    try:
        return Language.from_iso_code_639_1(IsoCode639_1.from_str(code))
    except ValueError:
        return None


def _lingua_detector(codes: Sequence[str]) -> LinguaDetector | None:
    languages = [language for code in codes if (language := _lingua_language(code)) is not None]
    if len(languages) < 2:
        return None
    detector = (
        LanguageDetectorBuilder.from_languages(*languages).with_preloaded_language_models().build()
    )
    # lingua's first call sets itself up (a few ms); pay that here, not on a message.
    detector.compute_language_confidence_values("warm-up")
    return detector


def _lingua_confidences(
    detector: LinguaDetector | None, codes: Sequence[str], text: str
) -> dict[str, float]:
    # Codes lingua lacks keep an even share: no vote either way.
    confidences = dict.fromkeys(codes, 1 / len(codes))
    if detector is not None:
        for value in detector.compute_language_confidence_values(text):
            code = value.language.iso_code_639_1.name.lower()
            if code in confidences:
                confidences[code] = value.value
    return confidences

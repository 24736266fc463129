"""The text analyser of full-text search: tokens, offsets, stop words, Snowball stems, and the
test vectors that searchapi's Go port must reproduce byte for byte.

The vector file is generated from this module (and checked in):
    uv run --frozen python tests/shared/test_analysis.py write
and the throughput measured with:
    uv run --frozen python tests/shared/test_analysis.py bench
"""

# The texts hold look-alike characters (dotless i, Greek capitals, curly apostrophes,
# mathematical letters) on purpose.
# ruff: noqa: RUF001

from __future__ import annotations

import dataclasses
import json
import sys
import time
import unicodedata
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from sluice.analysis import (
    _TOKEN,
    CLITICS,
    ENGLISH_STOP_WORDS,
    LANGUAGES,
    VERSION,
    Analyzer,
    Token,
    analyzer,
)
from sluice.embedders.hashing import tokenize
from sluice.errors import ConfigError

VECTORS_FILE = Path(__file__).parent / "testdata" / "analysis_vectors.json"

# Single words, each one token that is not a stop word: Porter2's steps and exceptions, the
# changes of Snowball 3 (which the Go ports kljensen/snowball and blevesearch/snowballstem
# predate: "internal", "emergency", "biologist", "added", "evening"), biomedical vocabulary,
# letters with digits, and other scripts through the English stemmer.
WORDS = """
caresses ponies ties cats gas gaps kiwis cries dies lies tied feed agreed plastered bled
motoring sing conflated troubled sized hopping tanned falling hissing fizzed failing filing
luxuriating hoping hopped dying lying tying inning innings outing outings canning cannings
herring herrings earring earrings proceed exceed succeed proceeding exceeded succeeds happy
sky cry say boy relational conditional rational valency hesitancy digitizer conformably
radically differently vilely analogously vietnamization predication operator feudalism
decisiveness hopefulness callousness formality sensitivity sensibility fluently generously
logically triplicate formative formalize electricity electrical hopeful goodness revival
allowance inference airliner gyroscopic adjustable defensible irritant replacement
adjustment dependent adoption communism activate angularity homologous effective bowdlerize
probate rate cease controlled rolling skis skies idly gently ugly early singly news howe
atlas cosmos bias andes generate general generous communication community universe
university universal emergency emergence emerge interfere interfering internal international
intern organ organization organic later lateral arsenal arsenic past pasture biologist biology
biological cardiologist gynecologist epidemiologists added adding evening even protein
proteins mutation mutations mutated expression expressed cells cellular receptor receptors
inhibitor inhibition inhibits patients clinical treatment treated therapies therapy
antibodies antibody vaccination vaccine infection infectious inflammation inflammatory
disease diseases diabetes obesity pregnancy mortality randomized randomised trial trials
increased decreased significantly associated association analysis analyses analysed
analyzed studies study studying data tumor tumour tumours carcinoma metastasis metastases
apoptosis genes genetic genome genomic sequencing transcription transcriptional regulation
regulatory pathway pathways signaling signalling neurons neuronal mice mouse rats bacteria
bacterial viral virus viruses running runs ran runner easily happiness quickly jumped jumping
national nationality classification classify classes argue argued argues arguing argument
arguments knowledge knowledgeable abandon abandoned abandonment ability absolutely
accompanying yes youth yielding crying played playing enjoy employs says toy boyish yellow
eyes dye dyed flying flies fly replies supplied tries trying agreement agreeable equally
hopefully specifically scientifically theoretically consistency consistent consistently
generally generality generalization NASA DNA RNA mRNA CRISPR Cas9 2024 3rd 1st 12th 1990s
covid19 h1n1 il6 cd4 p53 5ht x2 mp3 café naïve façade résumé élève straße größe über müller
fußball İSTANBUL ıstakoz Ελλάδα λόγος ΟΔΟΣ ΣΑΣ москва книги читать столица 東京 北京大学 السلام
שלום 한국어 カタカナ 𝐀𝐁𝐂 𐐀𐐁 ①②
""".split()

# (name, text): sentences with the corners a port most easily gets wrong.
SENTENCES: list[tuple[str, str]] = [
    ("ascii", "The quick brown foxes were jumping over the lazy dogs' kennels."),
    ("title-case", "THE RUNNING OF THE BULLS: Pamplona's Festival"),
    ("stop-words-only", "To be, or not to be: that is the question"),
    (
        "contractions",
        "Don't, can't, won't; it's John's book. We'd've gone. I'M sure they'll say O'Brien's "
        "rock'n'roll ain't dead.",
    ),
    ("curly-apostrophes", "They’re here; Parkinson’s disease isn’t curable’"),
    ("apostrophe-edges", "'quoted' words ' s, students' grades, rock 'n' roll, it''s, don'ts"),
    ("single-letters", "T cells, B cells and vitamin C; hepatitis B, type 2 diabetes, x y z"),
    ("hyphens", "state-of-the-art, well-known COVID-19 anti-inflammatory e-mail self‐report"),
    (
        "digits-and-units",
        "IL-6 and TNF-α levels rose 3.5-fold in 2019–2020 (p<0.001); CD4+ T cells, 10µg/mL, "
        "1,000 mg",
    ),
    ("mixed-alnum", "covid19 SARS-CoV-2 h1n1 x² ½ ① 3rd 5HT2A mp3s"),
    ("german", "Die Straße in Großbritannien. STRASSE ẞ größer Fußball"),
    ("turkish", "İstanbul'da IŞIK ılık İzmir’e İİİ İi"),
    ("greek-final-sigma", "ΟΔΟΣ Σοφοκλέους, ΣΑΣ λόγος ΣΣ Σ ΑΣ'Α"),
    ("cyrillic", "Москва — столица России; книги и ЧИТАТЬ"),
    ("cjk", "東京は日本の首都です。北京大学 2024年"),
    ("emoji", "I ❤ NY 🍕! Pizza🍕party 👍🏽 thumbs 🇫🇷"),
    ("nfd-accents", "Cafe\u0301 nai\u0308ve re\u0301sume\u0301s"),
    ("format-characters", "co\u00adoperation zero\u200bwidth word\u2060joiner"),
    ("other-scripts", "السلام שלום नमस\u094dत\u0947 ภาษาไทย 한국어"),
    ("supplementary-planes", "𝐀𝐁𝐂 bold 𐐀𐐁 Deseret"),
    ("whitespace", "tab\tnew\nline\u00a0nbsp\u3000ideographic\r\nCRLF"),
    ("empty", ""),
    ("punctuation-only", " \t\n ... !!! ' ’ -- "),
    (
        "abstract",
        "Background: Vitamin D deficiency has been associated with increased risks of "
        "cardiovascular diseases. We conducted a randomized, double-blind, "
        "placebo-controlled trial in 2,100 adults. Participants' serum 25-hydroxyvitamin D "
        "concentrations increased significantly, but the incidence of myocardial infarction "
        "didn't differ between the groups (hazard ratio, 0.97; 95% CI, 0.83 to 1.14). "
        "Conclusions: supplementation didn’t reduce cardiovascular events among these "
        "patients.",
    ),
]


def _token_json(token: Token) -> str:
    return json.dumps(
        {"term": token.term, "start": token.start, "end": token.end, "stop": token.stop},
        ensure_ascii=False,
    )


def build_vectors() -> str:
    """The vector file's text: the analysers' identities, the stop list, the stems of WORDS and,
    for each sentence and language, the tokens (offsets in code points), terms and analysis."""
    english = analyzer("english")
    stems = []
    for word in WORDS:
        tokens = english.tokens(word)
        assert len(tokens) == 1 and not tokens[0].stop, (word, tokens)
        stems.append(json.dumps([word, tokens[0].term], ensure_ascii=False))
    lines = [
        "{",
        '  "specification": "shared/sluice/analysis.py (module docstring)",',
        '  "stemmer": "Snowball 3.1 English (Porter2): PyStemmer 3.1.0; Go generated by '
        'Snowball 3.1.1 (searchapi/internal/analysis/snowball)",',
        f'  "identities": {json.dumps([analyzer(lang).identity for lang in LANGUAGES])},',
        f'  "stop_words": {json.dumps(sorted(ENGLISH_STOP_WORDS))},',
        f'  "clitics": {json.dumps(sorted(CLITICS))},',
        '  "stems": [',
        ",\n".join(f"    {s}" for s in stems),
        "  ],",
        '  "cases": [',
    ]
    cases = []
    for name, text in SENTENCES:
        parts = [
            f'      "name": {json.dumps(name)},',
            f'      "text": {json.dumps(text, ensure_ascii=False)},',
        ]
        for i, lang in enumerate(LANGUAGES):
            a = analyzer(lang)
            tokens = ",\n".join(f"          {_token_json(t)}" for t in a.tokens(text))
            parts += [
                f'      "{lang}": {{',
                f'        "terms": {json.dumps(a.terms(text), ensure_ascii=False)},',
                f'        "analyzed": {json.dumps(a.analyze(text), ensure_ascii=False)},',
                '        "tokens": [' + (f"\n{tokens}\n        " if tokens else "") + "]",
                "      }" + ("," if i < len(LANGUAGES) - 1 else ""),
            ]
        cases.append("    {\n" + "\n".join(parts) + "\n    }")
    lines += [",\n".join(cases), "  ]", "}"]
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def vectors() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(VECTORS_FILE.read_text(encoding="utf-8"))
    return data


NAMES = [name for name, _ in SENTENCES]
TEXTS = [text for _, text in SENTENCES]


def _clean(word: str) -> str:
    return "".join(ch for ch in word if ch.isalnum())


def test_the_vector_file_is_what_this_analyser_writes():
    # Regenerate with `python tests/shared/test_analysis.py write` after a deliberate change
    # (and bump sluice.analysis.VERSION).
    assert VECTORS_FILE.read_text(encoding="utf-8") == build_vectors()


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("language", LANGUAGES)
def test_reproduces_the_shared_vectors(vectors: dict[str, Any], name: str, language: str):
    (case,) = [c for c in vectors["cases"] if c["name"] == name]
    a = analyzer(language)
    expected = case[language]
    assert [t._asdict() for t in a.tokens(case["text"])] == expected["tokens"]
    assert a.terms(case["text"]) == expected["terms"]
    assert a.analyze(case["text"]) == expected["analyzed"]


def test_the_vectors_cover_what_was_agreed(vectors: dict[str, Any]):
    assert [c["name"] for c in vectors["cases"]] == NAMES
    words = [w for w, _ in vectors["stems"]]
    assert len(set(words)) == len(words) >= 200
    text = " ".join(c["text"] for c in vectors["cases"]) + " " + " ".join(words)
    for needle in ("é", "ß", "İ", "ς", "Σ", "Москва", "東京", "🍕", "covid19", "don't", "’", "-19"):
        assert needle in text, needle
    # no character unassigned in this Python's Unicode (3.11: 14.0; Go: 15.0), so that both
    # languages class every character alike
    assert not [ch for ch in text if unicodedata.category(ch) == "Cn"]
    # the stemmer is not the identity on the words: it must be exercised
    assert sum(w.lower() != s for w, s in vectors["stems"]) > 150
    assert vectors["identities"] == [{"language": lang, "version": VERSION} for lang in LANGUAGES]


def test_stems_of_single_words(vectors: dict[str, Any]):
    english = analyzer("english")
    for word, stem in vectors["stems"]:
        assert english.terms(word) == [stem], word


@pytest.mark.parametrize(
    ("text", "terms"),
    [
        ("Running runs ran runner", ["run", "run", "ran", "runner"]),
        ("The indexing of indexed indexes", ["index", "index", "index"]),
        ("generously generous generate general", ["generous", "generous", "generat", "general"]),
        ("internal international intern", ["internal", "internat", "intern"]),
        ("biologist biology", ["biolog", "biolog"]),
        ("skies skis dying news", ["sky", "ski", "die", "news"]),
        ("to be or not to be", []),
        ("T cells and vitamin C", ["t", "cell", "vitamin", "c"]),
        ("Don't stop", ["stop"]),
        ("Parkinson’s disease", ["parkinson", "diseas"]),
        ("could've ain't", ["ain"]),
        ("O'Brien rock 'n' roll", ["o", "brien", "rock", "n", "roll"]),
        ("students' grades", ["student", "grade"]),
        ("IL-6 covid19 2024", ["il", "6", "covid19", "2024"]),
        ("İstanbul'da", ["istanbul", "da"]),
        ("ΟΔΟΣ", ["οδος"]),
    ],
)
def test_english_terms(text: str, terms: list[str]):
    assert analyzer("english").terms(text) == terms


def test_none_lowercases_and_keeps_everything():
    none = analyzer("none")
    assert none.terms("The Running of THE bulls, don't") == [
        "the",
        "running",
        "of",
        "the",
        "bulls",
        "don",
        "t",
    ]
    assert not any(t.stop for t in none.tokens("the a of don't"))


@pytest.mark.parametrize("text", TEXTS, ids=NAMES)
def test_offsets_point_at_the_original_words(text: str):
    # Offsets index the original text (code points), even where lower-casing changes the
    # length (İ -> i + U+0307): the slice, lower-cased and cleaned, is the word.
    for token in analyzer("none").tokens(text):
        piece = text[token.start : token.end]
        assert piece.isalnum()
        assert _clean(piece.lower()) == token.term
    for token in analyzer("english").tokens(text):
        if token.stop:
            assert _clean(text[token.start : token.end].lower()) == token.term


def test_offsets_in_non_ascii_text():
    text = "İİ Straße, ΟΔΟΣ 🍕 东京 İstanbul'da"
    tokens = analyzer("english").tokens(text)
    assert [text[t.start : t.end] for t in tokens] == [
        "İİ",
        "Straße",
        "ΟΔΟΣ",
        "东京",
        "İstanbul",
        "da",
    ]
    spans = [(0, 2), (3, 9), (11, 15), (18, 20), (21, 29), (30, 32)]
    assert [(t.start, t.end) for t in tokens] == spans
    assert tokens[0].term == "ii"  # i + U+0307, cleaned: what Milvus's tokenizer would keep whole


@pytest.mark.parametrize("text", TEXTS, ids=NAMES)
def test_tokens_are_the_hashing_embedders(text: str):
    assert analyzer("none").terms(text) == [_clean(t) for t in tokenize(text)]


def test_token_pattern_is_isalnum_on_every_code_point():
    for cp in range(sys.maxunicode + 1):
        ch = chr(cp)
        assert (_TOKEN.fullmatch(ch) is not None) == ch.isalnum(), hex(cp)


@pytest.mark.parametrize("text", TEXTS, ids=NAMES)
@pytest.mark.parametrize("language", LANGUAGES)
def test_milvus_lite_splits_the_analysis_back_into_the_terms(text: str, language: str):
    # The BM25 field's analyser (standard tokenizer, lowercase) must see exactly our terms.
    standard = pytest.importorskip("milvus_lite.analyzer.standard")
    a = analyzer(language)
    assert standard.StandardAnalyzer().tokenize(a.analyze(text)) == a.terms(text)


def test_stop_list_is_snowballs(vectors: dict[str, Any]):
    assert len(ENGLISH_STOP_WORDS) == 174
    assert {"the", "don't", "cannot", "very", "ought"} <= ENGLISH_STOP_WORDS
    assert not {"us", "will", "can", "may", "must", "mine"} & ENGLISH_STOP_WORDS
    assert vectors["stop_words"] == sorted(ENGLISH_STOP_WORDS)
    assert vectors["clitics"] == sorted(CLITICS)


def test_unknown_language_is_a_config_error_naming_it():
    with pytest.raises(ConfigError, match="'klingon'"):
        analyzer("klingon")


def test_identity_and_immutability():
    a = analyzer("english")
    assert a.identity == {"language": "english", "version": VERSION}
    assert analyzer("none").identity == {"language": "none", "version": VERSION}
    assert analyzer("english") is a
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.language = "none"  # type: ignore[misc]
    assert Analyzer("english").terms("running") == ["run"]


def test_concurrent_use_gives_the_same_terms():
    texts = TEXTS * 20
    english = analyzer("english")
    expected = [english.terms(t) for t in texts]
    with ThreadPoolExecutor(8) as pool:
        assert list(pool.map(english.terms, texts)) == expected


def _bench(path: str | None) -> None:
    """Words per second of Analyzer.terms on ~150-word chunks, with the stem cache cold, then
    warm: of a text file's lines (or a JSONL file's "text" fields) if given, else of this
    module's words and sentences."""
    from sluice.analysis import _english

    if path is None:
        words = (" ".join(WORDS) + " " + " ".join(t for _, t in SENTENCES)).split() * 40
    elif path.endswith(".jsonl"):
        with open(path, encoding="utf-8") as f:
            words = " ".join(json.loads(line).get("text", "") for line in f).split()
    else:
        words = Path(path).read_text(encoding="utf-8").split()
    chunks = [" ".join(words[i : i + 150]) for i in range(0, len(words), 150)]
    for lang in LANGUAGES:
        a = analyzer(lang)
        _english.cache_clear()
        for label in ("stem cache cold", "stem cache warm") if lang == "english" else ("",):
            start = time.perf_counter()
            for chunk in chunks:
                a.terms(chunk)
            elapsed = time.perf_counter() - start
            rate = len(words) / elapsed
            print(f"{lang:8}{label:>16}: {rate:>10,.0f} words/s ({len(words):,} words)")


if __name__ == "__main__":
    if sys.argv[1:] == ["write"]:
        VECTORS_FILE.write_text(build_vectors(), encoding="utf-8")
        print(f"wrote {VECTORS_FILE}")
    elif sys.argv[1:2] == ["bench"] and len(sys.argv) <= 3:
        _bench(sys.argv[2] if len(sys.argv) == 3 else None)
    else:
        sys.exit(f"usage: {sys.argv[0]} write | bench [FILE.txt|FILE.jsonl]")

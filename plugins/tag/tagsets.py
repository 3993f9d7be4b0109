"""The Brown corpus's tags, and two smaller tag sets made from them.

A Brown tag is a base tag (``nn``, ``vbd``, ``pps+bez`` for a contraction
such as *he's*) with markers: the prefix ``fw-`` (a foreign word) and the
suffixes ``-tl`` (in a title), ``-hl`` (in a headline) and ``-nc`` (cited, not
used). The corpus has 472 distinct tags as written.

- :func:`strip_markers` drops the markers: 190 tags.
- :func:`to_universal` maps a tag to the 12 universal tags of Petrov, Das and
  McDonald (2012), as NLTK's ``brown.tagged_words(tagset="universal")`` does
  (its ``en-brown`` table): a foreign word is ``X``; a contraction is ``PRT``
  unless its first part decides (``vb+in``, *lemme*, is a ``VERB``); the base
  tags map by :data:`UNIVERSAL`. Over the whole corpus this gives NLTK's counts
  exactly (NOUN 275,558, VERB 182,750, ``.`` 147,565, ADP 144,766, DET 137,019,
  ADJ 83,721, ADV 56,239, PRON 49,334, CONJ 38,151, PRT 29,829, NUM 14,874,
  X 1,386), which ``plugins/tag/tests/test_tag_data.py`` checks when the corpus is
  in the data folder.

>>> strip_markers("fw-nn-tl"), strip_markers("pps+bez-hl"), strip_markers("np$")
('nn', 'pps+bez', 'np$')
>>> [to_universal(t) for t in ("at", "np-tl", "pps+bez", "vb+in", "fw-at", "``", "pp$")]
['DET', 'NOUN', 'PRT', 'VERB', 'X', '.', 'DET']
"""

from __future__ import annotations

import re

UNIVERSAL_TAGS = ("ADJ", "ADP", "ADV", "CONJ", "DET", "NOUN", "NUM", "PRON", "PRT", "VERB", ".", "X")
_MARKER = re.compile(r"-(?:tl|hl|nc)")


def _table(groups: dict[str, str]) -> dict[str, str]:
    return {tag: universal for universal, tags in groups.items() for tag in tags.split()}


#: base tag (markers stripped, no ``+``) -> universal tag; a tag missing here is ``X`` (``nil``, say)
UNIVERSAL = _table({
    ".": "( ) , -- . : `` '' '",
    "ADV": "* rb rbr rbt rn ql qlp wql wrb",
    "PRT": "abl abn ap$ jj$ rb$ ex rp to uh",
    "DET": "abx at dt dti dts dtx dt$ pp$ wdt wp$",
    "ADJ": "ap od jj jjr jjs jjt",
    "CONJ": "cc",
    "NUM": "cd",
    "ADP": "cs in",
    "NOUN": "cd$ nn nn$ nns nns$ np np$ nps nps$ nr nr$ nrs pn pn$",
    "PRON": "pp$$ ppl ppls ppo pps ppss wpo wps",
    "VERB": "be bed bed* bedz bedz* beg bem bem* ben ber ber* bez bez* do do* dod dod* doz doz* hv hv* hvd hvd* "
            "hvg hvn hvz hvz* md md* vb vbd vbg vbn vbz",
})  # fmt: skip

#: contractions (``a+b``) whose universal tag is not PRT: the ones a verb, adjective, ... leads
CONTRACTIONS = _table({
    "VERB": "vbn+to vb+jj vb+in vb+ppo md+ppss md+to md+hv vbg+to vb+rp vb+to vb+vb hv+to vb+at",
    "ADV": "rbr+cs rb+cs",
    "ADJ": "jjr+cs ap+ap jj+jj",
    "ADP": "in+ppo in+in",
    "NOUN": "nn+nn nn+in",
    "X": "do+ppss wdt+ber+pp wdt+do+pps",
})  # fmt: skip


def strip_markers(tag: str) -> str:
    """The tag without its ``fw-`` prefix and ``-tl``/``-hl``/``-nc`` suffixes."""
    tag = tag.lower()
    return _MARKER.sub("", tag[3:] if tag.startswith("fw-") else tag)


def to_universal(tag: str) -> str:
    """One of :data:`UNIVERSAL_TAGS` for a Brown tag as written."""
    tag = tag.lower()
    if tag.startswith("fw-"):
        return "X"
    base = _MARKER.sub("", tag)
    if "+" in base:
        return CONTRACTIONS.get(base, "PRT")
    return UNIVERSAL.get(base, "X")


def convert(tag: str, tagset: str) -> str:
    """``tag`` in the tag set ``stripped``, ``universal`` or ``raw`` (as written)."""
    if tagset == "stripped":
        return strip_markers(tag)
    if tagset == "universal":
        return to_universal(tag)
    return tag

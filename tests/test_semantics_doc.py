"""docs/semantics.md must define every rule id the code cites, so that the doc cannot fall behind.

Reads files only: rule ids (§3.2.4, §5 rule 9, S12, L3, Q9, fn15, X2/3), source tags (UPD, KS, ...),
``API:Operation`` and ``seed 00N`` citations in the model, properties, traces, engine, README and
the other docs, plus every footnote number used by the key-state matrix in model/rules.py.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "semantics.md"

SECTION = re.compile(r"§\s?(\d+(?:\.\d+)*)")
RULE = re.compile(r"\b([SLQ]\d{1,2})\b")
FOOTNOTE = re.compile(r"\bfn(\d+)\b")
SOURCE_TAG = re.compile(r"\b(KS|MRK|DEL|IMP|MAN|UPD|REP|VIEW|ROT|IK|CT|DK|LS)\b")
API_PAGE = re.compile(r"\bAPI:([A-Z][A-Za-z]+)")
SEED = re.compile(r"\bseeds? (\d{3})\b")
DELETION_RULE = re.compile(r"§5 rule (\d+)")


def _cited_files() -> list[Path]:
    files = [ROOT / "README.md"]
    for folder in ("model", "properties", "traces", "mrkcheck"):
        files += sorted((ROOT / folder).glob("*.py"))
    files += [p for p in sorted((ROOT / "docs").glob("*.md")) if p != DOC]
    return [f for f in files if f.exists()]


def _ids(text: str) -> set[str]:
    ids = {"§" + m for m in SECTION.findall(text)}
    ids |= set(RULE.findall(text))
    ids |= {"fn" + m for m in FOOTNOTE.findall(text)}
    ids |= {"API:" + m for m in API_PAGE.findall(text)}
    ids |= {"seed " + m for m in SEED.findall(text)}
    ids |= {"§5 rule " + m for m in DELETION_RULE.findall(text)}
    if "X2/3" in text:
        ids.add("X2/3")
    return ids


def _matrix_footnotes() -> set[str]:
    """fnN for every footnote number a row of KEY_STATE_MATRIX uses (the code builds "fn{n}")."""
    rules = (ROOT / "model" / "rules.py").read_text(encoding="utf-8")
    numbers = set()
    for args in re.findall(r"_row\(([^)]*)\)", rules):
        numbers |= {int(n) for n in re.findall(r"\b\d+\b", args)}
    return {f"fn{n}" for n in numbers}


def test_every_cited_rule_id_is_in_the_semantics_doc():
    doc = DOC.read_text(encoding="utf-8")
    defined = _ids(doc)
    missing: dict[str, list[str]] = {}
    for path in _cited_files():
        for rule_id in sorted(_ids(path.read_text(encoding="utf-8")) - defined):
            missing.setdefault(rule_id, []).append(str(path.relative_to(ROOT)))
    for rule_id in sorted(_matrix_footnotes() - defined):
        missing.setdefault(rule_id, []).append("model/rules.py (KEY_STATE_MATRIX)")
    assert not missing, f"ids cited in the code but absent from docs/semantics.md: {missing}"


def test_every_cited_source_tag_has_a_row_in_section_0():
    doc = DOC.read_text(encoding="utf-8")
    rows = set(re.findall(r'^\| <a id="[^"]+"></a>([A-Z]+)(?::Op)? \|', doc, re.M))
    cited: set[str] = set()
    for path in _cited_files():
        cited |= set(SOURCE_TAG.findall(path.read_text(encoding="utf-8")))
    assert cited <= rows | {"API"}, f"source tags without a §0 row: {sorted(cited - rows)}"


def test_rule_ids_have_anchors():
    """S1-S17, L1-L6, Q1-Q16 and the footnotes each have a table row with an anchor of their id."""
    doc = DOC.read_text(encoding="utf-8")
    expected = (
        [f"S{i}" for i in range(1, 18)]
        + [f"L{i}" for i in range(1, 7)]
        + [f"Q{i}" for i in range(1, 17)]
        + [f"fn{i}" for i in (1, 2, 3, 4, 5, 6, 7, 8, 9, 14, 15)]
    )
    absent = [i for i in expected if f'<a id="{i}"></a>{i} |' not in doc]
    assert not absent, f"no anchored table row for {absent}"

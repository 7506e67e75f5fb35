"""The counterexample viewers: picture, terminal table, HTML page (in a real headless browser),
and the notebook display."""

import os
import re

import pytest

from mrkcheck.check.explicit import check
from mrkcheck.cli import main
from mrkcheck.examples.twophase import MUTANTS, build
from mrkcheck.traces.html import result_html, trace_html
from mrkcheck.traces.itf import write_itf
from mrkcheck.traces.picture import choose_layout, picture_bytes, trace_figure
from mrkcheck.traces.sample import random_run
from tools.browser import Browser, find_chromium


@pytest.fixture(scope="module")
def cx():
    return check(MUTANTS[0].build()).result("TCConsistent").trace


@pytest.fixture(scope="module")
def long_run():
    return random_run(build(6), 30, seed=3, stutter=True)


# --- picture --------------------------------------------------------------------------------------


def _texts(fig):
    return [t.get_text() for t in fig.findobj(lambda o: hasattr(o, "get_text"))]


def test_picture_has_title_lanes_actions_and_changes(cx):
    fig = trace_figure(cx)
    texts = _texts(fig)
    assert "twophase: property TCConsistent violated after 3 steps" in texts
    assert "rm=3" in texts
    assert {"rm1", "rm2", "rm3"} <= set(texts)
    assert {"Init", "TMCommit()", "RMChooseToAbort(rm1)", "RMRcvCommitMsg(rm2)"} <= set(texts)
    assert "rmState = aborted" in texts and "changed at this step" in texts
    lanes = fig.axes[0]
    thick = [p for p in lanes.patches if p.get_linewidth() > 2]
    assert len(thick) == 2  # rm1 aborts at step 2, rm2 commits at step 3


def test_layout_prefers_named_variables_then_enums(cx):
    layout = choose_layout(cx.schema, trace=cx)
    assert layout.colour.name == "rmState"
    assert layout.lane_labels == ("rm1", "rm2", "rm3")
    assert (
        choose_layout(cx.schema, colour="msgPrepared", marker="tmPrepared").marker.name
        == "tmPrepared"
    )


def test_picture_stays_readable_for_thirty_steps_and_six_lanes(long_run):
    assert len(long_run) == 30
    fig = trace_figure(long_run)
    width, height = fig.get_size_inches()
    assert 0.55 <= width / 31 <= 0.8  # every column gets the same room as in a short trace
    assert len(fig.axes[0].get_yticklabels()) == 6
    assert picture_bytes(long_run, "png")[:4] == b"\x89PNG"


def test_picture_bytes_are_stable(cx):
    assert picture_bytes(cx, "png") == picture_bytes(cx, "png")
    assert picture_bytes(cx, "svg") == picture_bytes(cx, "svg")


# --- terminal -------------------------------------------------------------------------------------


def test_text_view_marks_changes(tmp_path, capsys, cx):
    path = tmp_path / "cx.itf.json"
    write_itf(cx, path)
    assert main(["trace", "show", str(path), "--mutant", "early_commit"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("twophase: property TCConsistent violated after 3 steps\noptions: rm=3")
    assert re.search(r"rmState\[rm2\] .*\*committed", out)
    assert "3 RMRcvCommitMsg(rm=rm2): rmState[rm2] working -> committed" in out


def test_show_writes_every_format(tmp_path, capsys, cx):
    path = tmp_path / "cx.itf.json"
    write_itf(cx, path)
    for fmt, magic in (("png", b"\x89PNG"), ("svg", b"<?xml"), ("html", b"<!DOCTYPE html>")):
        assert main(["trace", "show", str(path), "--mutant", "early_commit", "--format", fmt]) == 0
        assert (tmp_path / f"cx.{fmt}").read_bytes().startswith(magic)
    assert main(["trace", "show", str(path), "-o", str(tmp_path / "x.pdf")]) == 0
    assert main(["trace", "show", str(path), "-o", str(tmp_path / "x.doc")]) == 150


# --- HTML -----------------------------------------------------------------------------------------


def test_html_is_self_contained(cx):
    page = trace_html(cx)
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)
    assert "<script src" not in page and "<link" not in page
    assert page.count('<section class="step"') == 4
    assert page.count('class="changed"') == 4  # 2 at step 1, 1 at step 2, 1 at step 3
    assert "TCConsistent" in page and "data:image/png;base64," in page


def _browser_or_skip() -> str:
    path = find_chromium()
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("CI is set but no Chromium is installed (see .ci/setup-extra)")
        pytest.skip("no Chromium installed (apt-get install chromium)")
    return path


STATE_JS = """(function () {
  var root = document.querySelector('.mrk');
  var cur = root.querySelector('section.step.current');
  return {
    step: root.dataset.step,
    position: root.querySelector('.position').textContent,
    visible: root.querySelectorAll('section.step.current').length,
    changed: Array.from(cur.querySelectorAll('td.changed')).map(function (td) {
      var row = td.parentElement, table = row.closest('table');
      var col = Array.prototype.indexOf.call(row.children, td);
      var head = table.rows[0].cells[col].textContent;
      var key = row.cells[0].tagName === 'TH' && table.rows[0].cells[0].textContent !== 'variable'
        ? '[' + row.cells[0].textContent + ']' : '';
      var name = table.rows[0].cells[0].textContent === 'variable' ? row.cells[0].textContent : head;
      return name + key + '=' + td.textContent + '|' + td.title;
    }),
    violation: (cur.querySelector('.violation') || {}).textContent || null,
    banner: root.querySelector('.property').textContent,
    nextDisabled: root.querySelector('button.next').disabled,
  };
})()"""


def test_html_page_in_a_real_browser(tmp_path, cx):
    executable = _browser_or_skip()
    page_file = tmp_path / "cx.html"
    page_file.write_text(trace_html(cx, rule="TCommit.tla: no RM commits while another aborts"))
    expected = [
        sorted(f"{label}={new}|was {old}" for label, old, new in cx.changes(i))
        for i in range(len(cx.steps))
    ]
    with Browser(executable) as browser:
        page = browser.open(page_file.as_uri())
        seen = [page.evaluate(STATE_JS)]
        while not seen[-1]["nextDisabled"]:
            page.click("button.next")
            seen.append(page.evaluate(STATE_JS))
        assert [s["step"] for s in seen] == ["0", "1", "2", "3"]
        assert all(s["visible"] == 1 for s in seen)
        assert [sorted(s["changed"]) for s in seen] == expected
        assert seen[3]["changed"] == ["rmState[rm2]=committed|was working"]
        assert seen[3]["position"] == "Step 3 of 3"
        assert seen[3]["violation"] == "TCConsistent is false in this state."
        assert [s["violation"] for s in seen[:3]] == [None, None, None]
        assert "Property TCConsistent is violated after 3 steps" in seen[3]["banner"]
        assert "no RM commits while another aborts" in seen[3]["banner"]
        # arrow keys and Home/End, and a step addressed in the URL
        page.press("ArrowLeft")
        assert page.evaluate(STATE_JS)["step"] == "2"
        page.press("Home")
        assert page.evaluate(STATE_JS)["step"] == "0"
        page.press("End")
        assert page.evaluate(STATE_JS)["step"] == "3"
        page.goto(page_file.as_uri() + "?step=2")
        assert page.evaluate(STATE_JS)["changed"] == ["rmState[rm1]=aborted|was working"]


# --- notebook -------------------------------------------------------------------------------------


def test_notebook_display(cx):
    from IPython.core.formatters import DisplayFormatter

    data, _ = DisplayFormatter().format(cx)
    assert data["image/png"][:4] == b"\x89PNG"
    assert 'class="mrk' in data["text/html"] and "<!DOCTYPE" not in data["text/html"]
    result = check(MUTANTS[0].build())
    data, _ = DisplayFormatter().format(result)
    html = data["text/html"]
    assert "Counterexample for TCConsistent" in html and "288" not in html
    assert html.count("data:image/png;base64,") == 2  # both violated properties, with pictures
    assert result_html(result).count('<section class="step"') == html.count('<section class="step"')


def test_two_fragments_on_one_page_do_not_collide(cx):
    a, b = trace_html(cx, standalone=False), trace_html(cx, standalone=False)
    ids = re.findall(r'id="(mrk-[^"]+)"', a + b)
    assert len(ids) == len(set(ids)) == 2

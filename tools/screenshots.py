"""Screenshots for a reviewer: ``python -m tools.screenshots [--out screenshots]``.

Writes (not committed; ``screenshots/`` is ignored by git): the picture of every example
counterexample, the picture of a 30-step run over 6 lanes, the HTML page of the first example
opened in headless Chromium at its first and last step, and the state graph of a small TwoPhase.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mrkcheck.examples.twophase import build
from mrkcheck.traces.graph import state_graph, write_graph
from mrkcheck.traces.html import trace_html
from mrkcheck.traces.picture import write_picture
from mrkcheck.traces.sample import random_run
from tools import gallery


def pictures(out: Path) -> list[Path]:
    written = []
    for name, trace in gallery.counterexamples():
        path = out / name.replace(".itf.json", ".png")
        write_picture(trace, path)
        written.append(path)
    run = random_run(build(6), 30, seed=3, stutter=True)
    write_picture(run, out / "twophase-run-30x6.png")
    written += kms_run(out)
    graph = state_graph(build(2))
    write_graph(graph, build(2).schema, out / "twophase-rm2-graph.png")
    return written + [out / "twophase-run-30x6.png", out / "twophase-rm2-graph.png"]


def kms_run(out: Path) -> list[Path]:
    """A 30-step random run of the KMS model over 6 Regions, when the model is there."""
    try:
        from mrkcheck.model.kms import build as kms
    except ImportError:
        return []
    model = kms(regions=6)
    runs = (random_run(model, 30, seed) for seed in range(500))
    run = next((r for r in runs if len(r) == 30), None)  # the first seed that lasts 30 steps
    if run is None:
        return []
    path = out / "kms-run-30x6.png"
    write_picture(run, path)
    return [path]


def pages(out: Path) -> list[Path]:
    from tools.browser import Browser

    name, trace = next(iter(gallery.counterexamples()))
    page_file = out / name.replace(".itf.json", ".html")
    page_file.write_text(trace_html(trace), encoding="utf-8")
    shots = []
    with Browser() as browser:
        page = browser.open(page_file.resolve().as_uri())
        for label, key in (("first", "Home"), ("last", "End")):
            page.press(key)
            shot = out / f"{page_file.stem}-page-{label}.png"
            page.screenshot(shot)
            shots.append(shot)
    return [page_file, *shots]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("screenshots"))
    parser.add_argument("--no-browser", action="store_true", help="skip the page screenshots")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    written = pictures(args.out)
    if not args.no_browser:
        written += pages(args.out)
    for path in written:
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

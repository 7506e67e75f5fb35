"""Would numba pay for its weight in the vectorised backend? A probe, not a backend.

    .venv/bin/pip install numba==0.68.1     # not a dependency of mrkcheck
    .venv/bin/python benchmarks/probe_numba.py

It takes the guards function that :mod:`mrkcheck.check.vector_compile` writes for the largest
KMS instance (3 Regions x 2 key sets, AWS_KMS, one version), turns its array code into one
numba loop over states (``c[s]`` read as ``c[s, i]``, ``~x`` as ``not x``: the same text, hence
the same model expressions), and measures on the first 200,000 states of the search: numba's
import and compile times, and the time to evaluate every guard on every state, against the
numpy code run as the backend runs it (chunks of ``vectorised.CHUNK`` states). Both count the
states each guard enables, and the counts must agree.

Writes benchmarks/results/numba-probe.{json,md}. The guards are the part of the generated code
that a compiled loop would speed up most (a mask per instance over the chunk); the effects and
action properties are 6,700 more lines of the same kind.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).parent / "results"
STATES = 200_000


def scalar_guards(source: str) -> str:
    """The numpy ``guards(c)`` text as a loop over states that counts each guard's states."""
    body, results = [], []
    for line in source.splitlines()[1:]:
        text = line.strip()
        if text.startswith(("_all =", "del ")):
            continue
        if text.startswith("return"):
            results = text[len("return ") :].strip("[]").split(", ")
            continue
        text = re.sub(r"c\[(\d+)\]", r"c[\1, i]", text)
        text = re.sub(r"= ~(_\d+)$", r"= not \1", text)
        body.append("        " + text.replace("_where(", "_choose("))
    out = ["def guards_loop(c, counts):", "    for i in range(c.shape[1]):", *body]
    for j, result in enumerate(results):
        if result == "_all":
            out.append(f"        counts[{j}] += 1")
        elif result != "None":
            out += [f"        if {result}:", f"            counts[{j}] += 1"]
    return "\n".join(out)


def main() -> None:
    started = time.process_time()
    try:
        import numba
    except ImportError:
        sys.exit("numba is not installed: pip install numba==0.68.1 (see the docstring)")
    import_s = time.process_time() - started

    from mrkcheck.check import vector_compile, vectorised
    from mrkcheck.check.packing import layout_of
    from mrkcheck.model import kms

    model = kms.build(regions=3, key_sets=2, origins="AWS_KMS", max_versions=1)
    layout = layout_of(model, True)
    keys = _first_states(model, vectorised)
    columns = np.ascontiguousarray(np.stack(layout.columns(layout.split(keys))))

    text = scalar_guards(vector_compile._guards_code(model))
    namespace: dict = {"_choose": numba.njit(lambda cond, a, b: a if cond else b)}
    exec(compile(text, "<guards-loop>", "exec"), namespace)  # noqa: S102
    loop = numba.njit(namespace["guards_loop"])
    counts = np.zeros(len(model.instances), dtype=np.int64)
    started = time.process_time()
    loop(np.ascontiguousarray(columns[:, :10]), counts)  # compiles
    compile_s = time.process_time() - started
    counts[:] = 0
    started = time.process_time()
    loop(columns, counts)
    numba_s = time.process_time() - started

    code = vector_compile.compile_vector(model, layout)
    expected = np.zeros(len(model.instances), dtype=np.int64)
    started = time.process_time()
    for start in range(0, columns.shape[1], vectorised.CHUNK):
        chunk = list(columns[:, start : start + vectorised.CHUNK])
        for j, mask in enumerate(code.guards(chunk)):
            if mask is not None:
                expected[j] += int(np.count_nonzero(mask))
    numpy_s = time.process_time() - started
    assert np.array_equal(counts, expected), "numba and numpy disagree"

    row = {
        "states": int(columns.shape[1]),
        "scalar_lines": text.count("\n") + 1,
        "numba": numba.__version__,
        "numpy": np.__version__,
        "numba_import_cpu_s": round(import_s, 2),
        "numba_compile_cpu_s": round(compile_s, 2),
        "guards_numba_cpu_s": round(numba_s, 4),
        "guards_numpy_cpu_s": round(numpy_s, 4),
        "load": round(os.getloadavg()[0], 1),
    }
    print(json.dumps(row))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "numba-probe.json").write_text(json.dumps(row, indent=2) + "\n")
    (RESULTS / "numba-probe.md").write_text(
        f"Taken {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, load average {row['load']} "
        f"on 2 shared cores; numba {row['numba']}, numpy {row['numpy']}.\n\n"
        "| states | scalar lines | numba import CPU s | compile CPU s | guards, numba CPU s "
        "| guards, numpy CPU s |\n|---:|---:|---:|---:|---:|---:|\n"
        f"| {row['states']:,} | {row['scalar_lines']} | {row['numba_import_cpu_s']} | "
        f"{row['numba_compile_cpu_s']} | {row['guards_numba_cpu_s']} | "
        f"{row['guards_numpy_cpu_s']} |\n"
    )


def _first_states(model, vectorised) -> np.ndarray:  # noqa: ANN001
    """The keys of the first :data:`STATES` states the search numbers (real states)."""
    found: list[np.ndarray] = []
    add = vectorised._Engine._add

    def keep(engine, keys, parents, via):  # noqa: ANN001
        found.append(keys.copy())
        return add(engine, keys, parents, via)

    vectorised._Engine._add = keep
    try:
        vectorised.check(model, symmetry=True, limits=vectorised.Limits(max_states=STATES))
    finally:
        vectorised._Engine._add = add
    return np.concatenate(found)


if __name__ == "__main__":
    main()

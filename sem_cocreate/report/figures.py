"""Figures of a results folder: the path diagram, the confirmatory indirect effects, invariance fit.

matplotlib with the Agg backend only (no Graphviz or other system binary). Each figure is written
as SVG (inlined in report.html, linked from report.md) and PNG (placed in report.docx).
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd

FIG_DIR = "figures"


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    # svg.hashsalt: the same figure gives the same SVG bytes (ids are otherwise random)
    plt.rcParams.update({"font.family": "DejaVu Sans", "svg.fonttype": "path", "font.size": 9,
                         "svg.hashsalt": "sem_cocreate"})
    return plt


def stars(p: float) -> str:
    """``***`` p < .001, ``**`` p < .01, ``*`` p < .05, else empty."""
    if p is None or not np.isfinite(p):
        return ""
    return "***" if p < 0.001 else "**" if p < 0.01 else "*" if p < 0.05 else ""


def _longest(paths, same=frozenset()):
    nodes = list(dict.fromkeys([r for _, r in paths] + [l for l, _ in paths]))
    layer = {n: 0 for n in nodes}
    for _ in range(len(nodes) + 1):
        changed = False
        for lhs, rhs in paths:
            need = layer[rhs] + (0 if (lhs, rhs) in same else 1)
            if layer[lhs] < need:
                layer[lhs] = need
                changed = True
        if not changed:
            break
    return layer


def structural_layers(paths: list[tuple[str, str]]) -> tuple[dict[str, int], set]:
    """Column of each construct (0 = antecedents) and the pairs stacked in one column.

    Columns follow the longest path from the antecedents; a construct whose only predecessor in
    the previous column is a (not yet stacked) process construct is stacked under it, so a chain
    of mediators takes half the width and no arrow has to cross a box.

    Examples
    --------
    >>> structural_layers([("M", "X"), ("Y", "M"), ("Y", "X")])
    ({'X': 0, 'M': 1, 'Y': 1}, {('Y', 'M')})
    """
    base = _longest(paths)
    preds: dict[str, list[str]] = {}
    for lhs, rhs in paths:
        preds.setdefault(lhs, []).append(rhs)
    same, used = set(), set()
    for b in sorted(base, key=lambda n: base[n]):
        if base[b] < 2 or b in used:
            continue
        prev = [a for a in preds.get(b, []) if base[a] == base[b] - 1]
        if len(prev) == 1 and prev[0] not in used and base[prev[0]] >= 1:
            same.add((b, prev[0]))
            used.update((b, prev[0]))
    return _longest(paths, frozenset(same)), same


def path_diagram(estimates: pd.DataFrame, *, r2: dict | None = None, latent: set | None = None, ax=None):
    """Draw the structural model: antecedents → process → outcomes.

    Standardized coefficients (``std.all``) with stars on every arrow, dashed arrows where
    p ≥ .05, R² inside the endogenous constructs; observed controls are listed in one box.
    Returns the matplotlib Figure.
    """
    plt = _plt()
    reg = estimates[estimates["op"] == "~"]
    if "group" in reg.columns and reg["group"].notna().any():
        reg = reg[reg["group"] == reg["group"].min()]
    latent = latent if latent is not None else set(estimates.loc[estimates["op"] == "=~", "lhs"])
    core = reg[reg["rhs"].isin(latent) & reg["lhs"].isin(latent)]
    controls = reg[~reg["rhs"].isin(latent)]
    paths = list(zip(core["lhs"], core["rhs"]))
    layer, same = structural_layers(paths) if paths else ({}, set())
    cols: dict[int, list[str]] = {}
    for n, k in layer.items():
        cols.setdefault(k, []).append(n)
    for k, names in cols.items():  # a stacked pair: the predecessor above its outcome
        for b, a in same:
            if a in names and b in names:
                names.remove(b)
                names.insert(names.index(a) + 1, b)
    n_cols = max(cols) + 1 if cols else 1
    n_rows = max((len(v) for v in cols.values()), default=1)
    top = 0.35 * max([layer[l] - layer[r] for l, r in paths if layer[l] - layer[r] > 1] or [0])
    width = max(6.5, 1.9 * n_cols)
    height = max(3.0, 0.8 * n_rows + top + (0.6 if len(controls) else 0.2))
    fig = plt.figure(figsize=(width, height)) if ax is None else ax.figure
    ax = ax or fig.add_axes([0, 0, 1, 1])
    ax.set_xlim(-0.6, n_cols - 0.4)
    ax.set_ylim(-0.9 if len(controls) else -0.4, n_rows - 0.3 + top)
    ax.axis("off")
    pos = {}
    for k, names in cols.items():
        off = (n_rows - len(names)) / 2
        for i, n in enumerate(names):
            pos[n] = (k, n_rows - 1 - (off + i) - 0.1)
    bw, bh = 0.62, 0.5
    for n, (x, y) in pos.items():
        ax.add_patch(plt.matplotlib.patches.FancyBboxPatch((x - bw / 2, y - bh / 2), bw, bh,
                                                           boxstyle="round,pad=0.02,rounding_size=0.12",
                                                           fc="white", ec="#1a1a1a", lw=1.1, zorder=3))
        label = n
        if r2 and n in r2 and np.isfinite(r2[n]):
            ax.text(x, y + 0.07, label, ha="center", va="center", fontsize=10, weight="bold", zorder=4)
            ax.text(x, y - 0.13, f"R² = {r2[n]:.2f}".replace("0.", "."), ha="center", va="center", fontsize=7.5,
                    zorder=4)
        else:
            ax.text(x, y, label, ha="center", va="center", fontsize=10, weight="bold", zorder=4)
    from matplotlib.patches import FancyArrowPatch
    from matplotlib.path import Path as MPath

    for _, r in core.iterrows():
        (x0, y0), (x1, y1) = pos[r["rhs"]], pos[r["lhs"]]
        p = r.get("pvalue", np.nan)
        sig = bool(np.isfinite(p) and p < 0.05)
        span = layer[r["lhs"]] - layer[r["rhs"]]
        sx, ex = x0 + bw / 2, x1 - bw / 2
        if span == 0:  # stacked pair: straight down
            sx = ex = x0
            sy, ey = (y0 - bh / 2, y1 + bh / 2) if y0 > y1 else (y0 + bh / 2, y1 - bh / 2)
            cx, cy = sx, (sy + ey) / 2
        elif span > 1:  # skip an intermediate column: leave from the top, arc over it
            sx, sy, ex, ey = x0 + 0.1, y0 + bh / 2, x1 - 0.1, y1 + bh / 2
            cx, cy = (sx + ex) / 2, max(sy, ey) + 0.35 * span
        else:
            sy, ey = y0, y1
            cx, cy = (sx + ex) / 2, (sy + ey) / 2
        path = MPath([(sx, sy), (cx, cy), (ex, ey)], [MPath.MOVETO, MPath.CURVE3, MPath.CURVE3])
        ax.add_patch(FancyArrowPatch(path=path, arrowstyle="-|>,head_length=5,head_width=2.5", lw=1.1 if sig else 0.9,
                                     color="#1a1a1a" if sig else "#777", linestyle="-" if sig else (0, (4, 3)),
                                     zorder=2))
        t = 0.5 if span > 1 else 0.5 if span == 0 else 0.3
        lx = (1 - t) ** 2 * sx + 2 * (1 - t) * t * cx + t ** 2 * ex
        ly = (1 - t) ** 2 * sy + 2 * (1 - t) * t * cy + t ** 2 * ey
        coef = f"{r['std.all']:.2f}".replace("0.", ".") + stars(p)
        ax.text(lx, ly, coef, ha="center", va="center", fontsize=7.5, zorder=5,
                color="#1a1a1a" if sig else "#666", bbox=dict(boxstyle="round,pad=0.12", fc="white", ec="none"))
    if len(controls):
        txt = "Controls: " + "; ".join(f"{r['rhs']} → {r['lhs']} {r['std.all']:.2f}{stars(r.get('pvalue', np.nan))}"
                                       .replace("0.", ".") for _, r in controls.iterrows())
        # wrapped here (matplotlib's wrap=True measures the text word by word at every draw: ~0.1 s a save);
        # DejaVu Sans at 7 pt averages about 0.52 em a character
        import textwrap

        chars = max(20, int((n_cols - 0.1) / (n_cols + 0.2) * width * 72 / (7 * 0.52)))
        ax.text(-0.55, -0.75, textwrap.fill(txt, chars), ha="left", va="center", fontsize=7, color="#333")
    return fig


def indirect_figure(indirect: pd.DataFrame):
    """Forest plot of indirect effects (``est`` with ``ci.lower``–``ci.upper``), one row each."""
    plt = _plt()
    d = indirect.reset_index(drop=True)
    fig, ax = plt.subplots(figsize=(6.5, 0.32 * len(d) + 0.9))
    y = np.arange(len(d))[::-1]
    excl = (d["ci.lower"] > 0) | (d["ci.upper"] < 0)
    ax.hlines(y, d["ci.lower"], d["ci.upper"], color=np.where(excl, "#1a1a1a", "#999"), lw=1.6)
    ax.plot(d["est"], y, "o", color="#1a1a1a", ms=4)
    ax.axvline(0, color="#a40000", lw=0.8, ls="--")
    ax.set_yticks(y)
    ax.set_yticklabels(d["path"].astype(str), fontsize=7.5)
    ax.set_xlabel("indirect effect (unstandardized) with interval")
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    return fig


def invariance_figure(invariance: pd.DataFrame):
    """CFI and RMSEA across the invariance steps (configural → metric → scalar → strict)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.0, 2.6))
    x = np.arange(len(invariance))
    ax.plot(x, invariance["cfi"], "o-", color="#1a1a1a", label="CFI")
    ax.set_ylabel("CFI")
    ax.set_xticks(x)
    ax.set_xticklabels(invariance["model"].astype(str))
    ax2 = ax.twinx()
    ax2.plot(x, invariance["rmsea"], "s--", color="#777", label="RMSEA")
    ax2.set_ylabel("RMSEA")
    lo = min(invariance["cfi"].min() - 0.01, 0.94)
    ax.set_ylim(lo, 1.0)
    ax2.set_ylim(0, max(0.1, invariance["rmsea"].max() + 0.01))
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = ax2.get_legend_handles_labels()
    ax.legend(h1 + h2, l1 + l2, loc="center right", fontsize=8, frameon=False)
    fig.tight_layout()
    return fig


def _render(fig) -> tuple[str, bytes]:
    """(SVG text, PNG bytes) of a figure, which is closed."""
    plt = _plt()
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    pbuf = io.BytesIO()
    fig.savefig(pbuf, format="png", dpi=200, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    return buf.getvalue(), pbuf.getvalue()


def save_drawn(folder, stem: str, svg: str, png: bytes) -> list[Path]:
    """Write a drawn figure (:func:`draw_figure`) as ``figures/<stem>.svg`` and ``.png``."""
    from ..files import write_bytes, write_text

    out = Path(folder) / FIG_DIR
    out.mkdir(exist_ok=True)          # (two processes may draw a folder's figures at once)
    svg_path, png_path = out / f"{stem}.svg", out / f"{stem}.png"
    write_text(svg_path, svg)         # never through a symbolic link
    write_bytes(png_path, png)
    return [svg_path, png_path]


def _save(fig, folder: Path, stem: str) -> list[Path]:
    return save_drawn(folder, stem, *_render(fig))


def draw_figure(stem: str, *, estimates=None, r2=None, indirect=None, invariance=None) -> tuple[str, bytes]:
    """(SVG text, PNG bytes) of one figure (a stem :func:`figure_stems` gives for these tables)."""
    return _render(_figure_makers(estimates, r2, indirect, invariance)[stem]())


def figure_stems(*, estimates=None, r2=None, indirect=None, invariance=None) -> list[str]:
    """The figures these tables give (stems, in the report's order); nothing is drawn."""
    return list(_figure_makers(estimates, r2, indirect, invariance))


def _figure_makers(estimates, r2, indirect, invariance) -> dict:
    """The figures a results folder gets, stem -> a function drawing it (nothing is drawn here)."""
    makers = {}
    if estimates is not None and (estimates["op"] == "~").any():
        r2d = None
        if r2 is not None and len(r2):
            r2d = dict(zip(r2["variable"].astype(str), r2["r2"].astype(float)))
        makers["path_diagram"] = lambda: path_diagram(estimates, r2=r2d)
    if indirect is not None and len(indirect) and {"ci.lower", "ci.upper", "est", "path"} <= set(indirect.columns):
        ind = confirmatory_rows(indirect)
        ind = ind.dropna(subset=["ci.lower", "ci.upper"])
        if len(ind):
            makers["indirect_effects"] = lambda: indirect_figure(ind.head(20))
    if invariance is not None and len(invariance) > 1 and {"cfi", "rmsea"} <= set(invariance.columns):
        makers["invariance_fit"] = lambda: invariance_figure(invariance)
    return makers


def planned_figures(folder, *, estimates: pd.DataFrame, r2: pd.DataFrame | None = None,
                    indirect: pd.DataFrame | None = None, invariance: pd.DataFrame | None = None) -> dict[str, Path]:
    """``{stem: svg path}`` of the figures :func:`write_figures` writes for these tables (without drawing)."""
    return {stem: Path(folder) / FIG_DIR / f"{stem}.svg" for stem in _figure_makers(estimates, r2, indirect, invariance)}


def write_figures(folder, *, estimates: pd.DataFrame, r2: pd.DataFrame | None = None,
                  indirect: pd.DataFrame | None = None, invariance: pd.DataFrame | None = None,
                  only: str | None = None) -> dict[str, Path]:
    """Write ``figures/path_diagram.svg/.png`` and, when there is something to show,
    ``figures/indirect_effects`` (confirmatory family, or the specific indirect effects) and
    ``figures/invariance_fit`` (``only``: that one). Returns ``{stem: svg path}``.
    """
    folder = Path(folder)
    return {stem: _save(make(), folder, stem)[0]
            for stem, make in _figure_makers(estimates, r2, indirect, invariance).items()
            if only is None or stem == only}


def warm_up() -> None:
    """Import matplotlib and its font cache (a background worker does this while it would be idle)."""
    _plt()


def confirmatory_rows(indirect: pd.DataFrame) -> pd.DataFrame:
    """The confirmatory family of indirect effects.

    With a ``family`` column (``indirect.csv`` of newer runs) its ``confirmatory`` rows; otherwise
    the specific indirect effects into the first process outcome (the outcome of the shortest
    specific chains, e.g. X → M → VCC), which is what the mediation hypotheses name.
    """
    if "family" in indirect.columns and (indirect["family"] == "confirmatory").any():
        return indirect[indirect["family"] == "confirmatory"]
    if "kind" in indirect.columns:
        spec = indirect[indirect["kind"] == "specific"]
    else:
        spec = indirect[indirect["name"].astype(str).str.startswith("ind_")] if "name" in indirect else indirect
    if not len(spec) or "path" not in spec.columns:
        return spec
    steps = spec["path"].astype(str).str.count("->") + spec["path"].astype(str).str.count("→")
    shortest = spec[steps == steps.min()]
    target = shortest["to"] if "to" in shortest.columns else shortest["path"].astype(str).str.split().str[-1]
    ends = set(target.astype(str))
    end_of = spec["to"].astype(str) if "to" in spec.columns else spec["path"].astype(str).str.split().str[-1]
    return spec[end_of.isin(ends)]

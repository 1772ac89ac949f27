"""Assemble the report's content as a flat list of blocks, one list per language.

A block is a heading, a paragraph, a list, a banner, a warning box or a display table (from
:mod:`sem_cocreate.tables`). The renderers (``markdown``, ``html``, ``docx``) walk the same list,
so the three formats always say the same thing.
"""

from __future__ import annotations

from pathlib import Path

from dataclasses import dataclass, field

import pandas as pd

from . import tables as T
from .folder import ResultsFolder, find_instrument
from .i18n import label


@dataclass(frozen=True)
class Block:
    """One piece of the report.

    ``kind`` is ``heading`` (``text``, ``level``), ``para`` (``text``; ``style`` "note"/"lead"),
    ``list`` (``items``), ``banner`` (``text``, ``items``), ``warning`` (``text`` title, ``items``),
    ``table`` (``table``, ``caption``, ``note``) or ``code`` (``text``).
    """

    kind: str                     # ... or ``figure`` (``path`` svg, ``png``, ``caption``)
    text: str = ""
    level: int = 2
    items: tuple[str, ...] = ()
    table: pd.DataFrame | None = None
    caption: str = ""
    note: str = ""
    style: str = ""
    path: str = ""
    png: str = ""


@dataclass(frozen=True)
class Report:
    """The content of one language's report."""

    lang: str
    title: str
    subtitle: str
    blocks: tuple[Block, ...] = field(default_factory=tuple)


class _Builder:
    def __init__(self, lang: str):
        self.lang = lang
        self.blocks: list[Block] = []
        self.n_table = 0
        self.n_fig = 0
        self.appendix: list = []

    def t(self, key, **kw) -> str:
        return label(key, self.lang, **kw)

    def heading(self, key_or_text, level=2, *, raw=False):
        self.blocks.append(Block("heading", key_or_text if raw else self.t(key_or_text), level=level))

    def para(self, text, style=""):
        if text:
            self.blocks.append(Block("para", text, style=style))

    def items(self, items, kind="list", text=""):
        items = tuple(i for i in items if i)
        if items:
            self.blocks.append(Block(kind, text, items=items))

    def table(self, df, caption_key, note="", **kw):
        if df is None or not len(df):
            return
        self.n_table += 1
        self.blocks.append(Block("table", table=df, caption=self.t(caption_key, n=self.n_table, **kw), note=note))

    def figure(self, folder, stem, text):
        svg = folder.figures.get(stem)
        if svg is None:
            return
        self.n_fig += 1
        png = Path(svg).with_suffix(".png")       # written beside the SVG (possibly still being drawn)
        self.blocks.append(Block("figure", path=str(svg), png=str(png),
                                 caption=self.t("fig_caption", n=self.n_fig, text=text)))

    def missing(self, name):
        self.para(self.t("missing_section", file=name), style="note")


def _names(instrument, lang):
    if instrument is None:
        return None, None
    names = {c.id: (c.name_zh if lang == "zh" else c.name_en) for c in instrument.constructs}
    wording = {it.id: it.text_for(None, lang) for it in instrument.items()}
    return names, wording


#: more exploratory effects than this are listed in indirect.csv, not printed in the appendix
APPENDIX_MAX_ROWS = 20

#: note topics about the user's own model; warnings of auxiliary analyses stay in the notes
_OWN_MODEL_TOPICS = ("structural model", "measurement model", "bootstrap")


def _warnings(folder: ResultsFolder, lang: str) -> list[str]:
    """The "check before using these results" box: problems of the user's own model only.

    Folders with topic-tagged ``entries`` (notes.json of this version) keep warnings of auxiliary
    models (the method-factor model, the single-factor model, HTMT, ...) out of the box: those are
    reported where their analysis is, and in the notes.
    """
    items = []
    if not folder.converged:
        items.append(label("not_converged", lang))
    entries = folder.notes.get("entries")
    if isinstance(entries, list):
        for e in entries:
            if isinstance(e, dict) and e.get("level") == "warning" and e.get("topic") in _OWN_MODEL_TOPICS:
                text = f"{e.get('topic')}: {e.get('message')}"
                if text not in items:
                    items.append(text)
        return items
    for note in folder.notes.get("notes", []) or []:
        low = str(note).lower()
        if any(k in low for k in ("heywood", "not positive", "warning", "did not converge", "not identified",
                                  "failed")):
            items.append(str(note))
    for w in folder.notes.get("warnings", []) or []:
        if str(w) not in items:
            items.append(str(w))
    return items


def build_report(folder: ResultsFolder, *, lang: str = "en") -> Report:
    """The content of the report of ``folder`` in ``lang`` ("en" or "zh").

    Parameters
    ----------
    folder : ResultsFolder
        From :func:`sem_cocreate.report.folder.read_results_folder`.
    lang : str

    Returns
    -------
    Report
    """
    b = _Builder(lang)
    t = b.t
    instrument, why = find_instrument(folder)
    names, wording = _names(instrument, lang)
    title = t("title")
    subtitle = ""
    if instrument is not None:
        subtitle = instrument.title_zh if lang == "zh" else instrument.title_en
    ended = folder.manifest.get("ended", "")
    b.para(t("generated", folder=folder.path.name, ended=ended or "—"), style="note")

    if folder.simulated:
        b.blocks.append(Block("banner", t("simulated_banner"), items=(t("simulated_detail"),)))
    warn = _warnings(folder, lang)
    if warn:
        b.blocks.append(Block("warning", t("warning_title"), items=tuple(warn)))
    if why == "changed":
        b.para(t("instrument_changed"), style="note")

    _sample(b, folder)
    _measurement(b, folder, names, wording)
    _structural(b, folder, names)
    _mediation(b, folder)
    _invariance(b, folder)
    _method(b, folder)
    b.heading("s_appendix")
    for blk in b.appendix:
        if blk[0] == "table":
            b.table(*blk[1], **blk[2])
        else:
            blk[1]()
    _reproducibility(b, folder)
    return Report(lang=lang, title=title, subtitle=subtitle, blocks=tuple(b.blocks))


# --- sections ---------------------------------------------------------------------------------

def _sample(b: _Builder, folder: ResultsFolder):
    t = b.t
    b.heading("s_sample")
    n_obs = folder.n_obs
    s = folder.screening
    if s:
        b.para(t("sample_sentence", n_raw=T.fmt_int(s.get("n_raw")), n_excluded=T.fmt_int(s.get("n_excluded")),
                 n_analysed=T.fmt_int(s.get("n_analysed")), n_obs=T.fmt_int(n_obs)))
        b.table(T.screening_table(s, n_obs=n_obs, lang=b.lang), "screen_caption")
        b.para(t("screen_note"), style="note")
    else:
        b.para(t("sample_sentence_noscreen", n_obs=T.fmt_int(n_obs)))
    if folder.sample_profile is not None and len(folder.sample_profile):
        b.heading("s_profile", level=3)
        b.table(T.profile_display(folder.sample_profile, lang=b.lang), "profile_caption",
                note=t("profile_note"), n_obs=T.fmt_int(n_obs))


def _measurement(b: _Builder, folder: ResultsFolder, names, wording):
    t, lang = b.t, b.lang
    b.heading("s_measurement")
    # fit
    b.heading("s_cfa_fit", level=3)
    if folder.measurement_fit:
        mf = dict(folder.measurement_fit)
        mf.setdefault("estimator", folder.estimator)
        note = t("fit_note") + (("" if lang == "zh" else " ") + t("fit_note_robust") if folder.estimator == "MLR" else "")
        b.table(T.fit_table({t("model_cfa"): mf}, lang=lang), "fit_caption_cfa", note=note)
    else:
        b.missing("measurement/fit.json")
    # loadings
    b.heading("s_loadings", level=3)
    est = folder.measurement_estimates if folder.measurement_estimates is not None else folder.estimates
    b.table(T.loadings_table(est, names=names, wording=wording, lang=lang), "loadings_caption",
            note=t("loadings_note"))
    # reliability
    b.heading("s_reliability", level=3)
    if folder.reliability is not None:
        b.table(T.reliability_display(folder.reliability, flags=folder.flags, names=names, lang=lang),
                "rel_caption", note=t("rel_note"))
        lines = T.flag_lines(folder.flags, lang=lang)
        if lines:
            b.blocks.append(Block("warning", t("flags_title"), items=tuple(lines)))
        elif folder.flags is not None:
            b.para(t("no_flags"))
    else:
        b.missing("reliability.csv")
    # discriminant validity
    b.heading("s_discriminant", level=3)
    if folder.htmt is not None:
        mx, pair = T.htmt_max(folder.htmt)
        mc = T.htmt_max(folder.htmt_classic)[0] if folder.htmt_classic is not None else float("nan")
        note = t("htmt_note", max_htmt=T.fmt_num(mx, 2, leading_zero=False), pair=pair,
                 max_classic=T.fmt_num(mc, 2, leading_zero=False))
        ci_file = Path(folder.path) / "validity" / "htmt_ci.csv"
        if ci_file.is_file():            # HTMT inference in the same table's note: HTMT is shown once
            ci = pd.read_csv(ci_file)
            if len(ci) and "ci.upper" in ci.columns:
                top = ci.loc[ci["ci.upper"].idxmax()]
                note += ("" if lang == "zh" else " ") + t(
                    "htmt_inference", upper=T.fmt_num(top["ci.upper"], 2, leading_zero=False),
                    pair=f"{top['lhs']}–{top['rhs']}", n_boot=T.fmt_int(top.get("n_boot")))
        b.table(T.htmt_display(folder.htmt, lang=lang), "htmt_caption", note=note)
    else:
        b.missing("validity/htmt.csv")
    if folder.descriptives is not None and len(folder.descriptives):
        src = str(folder.descriptives["cor_source"].iloc[0]) if "cor_source" in folder.descriptives else "scores"
        b.table(T.descriptives_display(folder.descriptives, lang=lang), "desc_caption",
                note=t("desc_note", cor_source=t(f"cor_{src}")))
    elif folder.fornell_larcker is not None:
        fl = T.fornell_larcker_display(folder.fornell_larcker, lang=lang)
        b.table(fl, "fl_caption", note=t("fl_note", n_viol=fl.attrs.get("violations", 0)))
    else:
        b.missing("validity/fornell_larcker.csv")
    # normality
    b.heading("s_normality", level=3)
    if folder.normality:
        nm = folder.normality
        b.table(T.normality_display(nm, lang=lang), "norm_caption",
                note=t("norm_note", n=T.fmt_int(nm.get("n_obs")), p=T.fmt_int(nm.get("n_var"))))
        b.para(T.normality_recommendation(nm, estimator=folder.estimator, lang=lang), style="lead")
    else:
        b.missing("normality.json")
    _common_method(b, folder)


def _common_method(b: _Builder, folder: ResultsFolder):
    """HTMT inference, common-method checks and sampling adequacy (files written by ``fit``)."""
    import json

    t, lang = b.t, b.lang
    path = Path(folder.path)

    def read_json(name):
        f = path / name
        return json.loads(f.read_text(encoding="utf-8")) if f.exists() else None

    def read_csv(name):
        f = path / name
        return pd.read_csv(f) if f.exists() else None

    ci = read_csv("validity/htmt_ci.csv") if folder.htmt is None else None   # HTMT shown once
    if ci is not None and len(ci):
        ci = ci.rename(columns={"ci.lower": "ci_lower", "ci.upper": "ci_upper"})
        k = min(10, len(ci))
        b.table(T.htmt_ci_display(ci, k=k, lang=lang), "htmt_ci_caption", n_boot=T.fmt_int(ci["n_boot"].iloc[0]),
                note=t("htmt_ci_note", k=k))
    harman, single, ulmc = read_json("cmv/harman.json"), read_csv("cmv/single_factor.csv"), read_json("cmv/ulmc.json")
    explo = read_json("exploratory.json")
    if harman or single is not None or ulmc or explo:
        b.heading("s_cmv", level=3)
        b.table(T.cmv_display(harman, single, ulmc, lang=lang), "cmv_caption", note=t("cmv_note"))
        coll = folder.collinearity
        if coll is not None and (coll["kind"] == "full").any():
            mx = coll.loc[coll["kind"] == "full", "vif"].max()
            b.table(T.full_vif_display(coll, lang=lang), "full_caption", note=t("full_note", max_vif=T.fmt_num(mx, 2)))
        b.para(T.kmo_sentence(explo, lang=lang))


def _structural(b: _Builder, folder: ResultsFolder, names):
    t, lang = b.t, b.lang
    b.heading("s_structural")
    b.heading("s_struct_fit", level=3)
    models = {}
    if folder.measurement_fit:
        mf = dict(folder.measurement_fit)
        mf.setdefault("estimator", folder.estimator)
        models[t("model_cfa")] = mf
    models[t("model_sem")] = folder.fit
    note = t("fit_note") + (("" if lang == "zh" else " ") + t("fit_note_robust") if folder.estimator == "MLR" else "")
    mf = folder.measurement_fit or {}
    if all(T._finite(x) for x in (mf.get("chisq"), mf.get("df"), folder.fit.get("chisq"), folder.fit.get("df"))) \
            and folder.fit["df"] > mf["df"] and folder.estimator == "ML":
        from ..engine._distributions import chi2

        dchi, ddf = folder.fit["chisq"] - mf["chisq"], int(folder.fit["df"] - mf["df"])
        p = T.fmt_p(chi2.sf(max(dchi, 0.0), ddf))
        note += ("" if lang == "zh" else " ") + t("ag_test", dchi=T.fmt_num(dchi, 2), ddf=ddf,
                                                   p=p if p.startswith("<") else f"= {p}")
    b.table(T.fit_table(models, lang=lang), "fit_caption_sem", note=note)
    if folder.model_comparison is not None and len(folder.model_comparison):
        b.table(T.model_comparison_display(folder.model_comparison, lang=lang), "mc_caption")
    b.figure(folder, "path_diagram", t("fig_path"))

    b.heading("s_hypotheses", level=3)
    boot = int((folder.manifest.get("options") or {}).get("bootstrap") or 0)
    ci_kind = t("ci_boot", n_boot=T.fmt_int(boot)) if boot else t("ci_wald")
    if folder.hypotheses is not None and len(folder.hypotheses):
        b.table(T.hypotheses_display(folder.hypotheses, lang=lang), "hyp_caption",
                note=t("hyp_note", ci_kind=ci_kind))

    else:
        b.para(t("no_hypotheses"), style="note")
        b.table(T.paths_display(folder.estimates, lang=lang), "paths_caption", note=t("hyp_note", ci_kind=ci_kind))

    b.heading("s_r2", level=3)
    if folder.r2 is not None:
        b.table(T.r2_display(folder.r2, folder.estimates, names=names, lang=lang), "r2_caption")
    else:
        b.missing("r2.csv")
    if names:
        used = [c for c in names if c in set(folder.estimates["lhs"]) | set(folder.estimates["rhs"])]
        sep = "；" if lang == "zh" else "; "
        abbrev = sep.join(f"{c} = {names[c]}" for c in used)
        b.para(t("abbrev", items=abbrev) + " " + t("abbrev_ci_note"), style="note")
    if folder.collinearity is not None or folder.effect_sizes is not None:
        b.heading("s_collinearity", level=4)      # part of 3.3: f² is the change in R²
        b.table(T.collinearity_display(folder.collinearity, folder.effect_sizes, lang=lang), "coll_caption",
                note=t("coll_note"))
    _narrative(b, folder)


def _mediation(b: _Builder, folder: ResultsFolder):
    t, lang = b.t, b.lang
    b.heading("s_mediation")
    ind = folder.indirect
    opts = folder.manifest.get("options") or {}
    fallback = False
    if ind is None:
        if (folder.estimates["op"] == ":=").any():
            boot = int(opts.get("bootstrap") or 0)
            method = f"bootstrap {opts.get('ci', 'perc')}" if boot else ("mc" if opts.get("ci") == "mc" else "delta")
            ind = T.indirect_from_estimates(folder.estimates, method=method, n_boot=boot)
            fallback = True
        else:
            b.para(t("no_mediation"))
            return
    if not len(ind):
        b.para(t("no_mediation"))
        return
    methods = list(dict.fromkeys(ind["method"].dropna().astype(str))) if "method" in ind.columns else []
    parts = []
    for m in methods or [""]:
        text = T.method_label(m, lang=lang)
        sub = ind[ind["method"].astype(str) == m] if methods else ind
        nb = sub["n_boot"].max() if "n_boot" in sub.columns else 0
        nf = sub["n_failed"].max() if "n_failed" in sub.columns else 0
        if T._finite(nb) and nb > 0:
            counts = t("boot_counts", n_boot=T.fmt_int(nb), n_failed=T.fmt_int(nf if T._finite(nf) else 0))
            text += f"（{counts}）" if lang == "zh" else f" ({counts})"
        parts.append(text)
    b.para(t("med_intro", method="; ".join(parts)))
    if fallback:
        b.para(t("med_fallback"), style="note")
    from .figures import confirmatory_rows

    main = confirmatory_rows(ind)
    rest = ind.drop(index=main.index)
    boot = "method" in ind.columns and ind["method"].astype(str).str.contains("boot").any()
    ci_kind = parts[0] if parts else ""
    confirm = "family" in ind.columns and (ind["family"] == "confirmatory").any()
    note = t("med_confirm_note" if confirm else "med_spec_note", ci_kind=ci_kind, k=len(rest))
    if not boot:
        note += ("" if lang == "zh" else " ") + t("delta_warning")
    if "mediation_type" in ind.columns and (main.get("mediation_type") == "no direct path in model").any():
        note += ("" if lang == "zh" else " ") + t("med_no_direct_note")
    types = main["mediation_type"].dropna().astype(str) if "mediation_type" in main.columns else pd.Series(dtype=str)
    if len(main) > 1 and types.nunique() == 1 and types.iloc[0] != "no direct path in model":
        note += ("" if lang == "zh" else " ") + t("med_one_type", type=T.mediation_type_label(types.iloc[0], lang=lang))
    b.table(T.indirect_display(main, lang=lang), "med_confirm_caption" if confirm else "med_spec_caption", note=note)
    b.figure(folder, "indirect_effects", t("fig_indirect", ci_kind=ci_kind))
    if len(rest):
        b.appendix.append(("call", lambda: b.heading("s_app_a", level=3)))
        if len(rest) > APPENDIX_MAX_ROWS:      # a long exploratory family stays in the results file
            b.appendix.append(("call", lambda: b.para(t("med_app_file", k=len(rest)))))
        else:
            b.appendix.append(("table", (T.indirect_display(rest, lang=lang), "med_app_caption"),
                               {"note": t("med_note")}))


def _narrative(b: _Builder, folder: ResultsFolder):
    """A results paragraph ("H1 was supported, β = .24, p < .001") and the limitations, true for these data."""
    t, lang = b.t, b.lang
    sents = []
    fit = folder.fit
    cfi, rmsea, srmr = (fit.get(k) for k in ("cfi", "rmsea", "srmr"))
    if T._finite(cfi) and T._finite(rmsea):
        quality = ("fit_good" if cfi >= 0.95 and rmsea <= 0.06 and (not T._finite(srmr) or srmr <= 0.08)
                   else "fit_ok" if cfi >= 0.90 and rmsea <= 0.08 else "fit_poor")
        cells = T.fit_row(fit)
        sents.append(t("narr_fit", quality=t(quality), chidf=cells["chidf"], cfi=cells["cfi"], tli=cells["tli"],
                       rmsea=T.fmt_num(rmsea, 3, leading_zero=False), srmr=cells["srmr"]))
    h = folder.hypotheses
    if h is not None and len(h):
        n_sup = 0
        for r in h.to_dict("records"):
            ok = str(r.get("supported", "")).lower() in ("supported", "true", "yes")
            n_sup += ok
            p = T.fmt_p(r.get("pvalue"))
            p = p if p.startswith("<") else f"= {p}"
            sents.append(t("narr_supported" if ok else "narr_not", h=r["id"], path=str(r.get("path", "")),
                           beta=T.fmt_num(r.get("std.all"), 2, leading_zero=False), p=p))
        sents.append(t("narr_summary", k=len(h), s=n_sup))
    if sents:
        b.heading("s_narrative", level=3)
        b.para(("" if lang == "zh" else " ").join(sents))
    b.heading("s_limitations", level=3)
    b.para(t("limitations") + (t("limitations_sim") if folder.simulated else ""))


def _invariance(b: _Builder, folder: ResultsFolder):
    t, lang = b.t, b.lang
    b.heading("s_invariance")
    if folder.invariance is not None and len(folder.invariance):
        b.table(T.invariance_display(folder.invariance, lang=lang), "inv_caption", note=t("inv_note"))
        b.figure(folder, "invariance_fit", t("fig_invariance"))
    else:
        b.para(t("inv_none"), style="note")
    if folder.group_paths is not None and len(folder.group_paths):
        b.table(T.group_paths_display(folder.group_paths, lang=lang), "gp_caption", note=t("gp_note"))


def _method(b: _Builder, folder: ResultsFolder):
    t, lang = b.t, b.lang
    b.heading("s_method")
    man = folder.manifest
    opts = man.get("options") or {}
    est = folder.estimator
    missing = str(folder.fit.get("missing") or opts.get("missing") or "listwise").lower()
    s = folder.screening
    screening = ""
    if s:
        rules = [t("short_count", rule=t(f"short_{k}") if k in T.SCREEN_RULES else k, n=T.fmt_int(r.get("removed")))
                 for k, r in (s.get("rules") or {}).items() if (r or {}).get("removed")]
        sep = "、" if lang == "zh" else "; "
        screening = t("screen_sentence", n_raw=T.fmt_int(s.get("n_raw")), n_excluded=T.fmt_int(s.get("n_excluded")),
                      rules=sep.join(rules) or "—")
    boot = int(opts.get("bootstrap") or 0)
    if boot:
        ci = str(opts.get("ci") or "perc")
        indirect = t("ind_boot", n_boot=T.fmt_int(boot), ci_long=T.method_label(f"bootstrap {ci}", lang=lang))
    elif opts.get("ci") == "mc":
        indirect = t("ind_mc")
    else:
        indirect = t("ind_delta")
    if not (folder.estimates["op"] == ":=").any() and folder.indirect is None:
        indirect = ""
    version = (man.get("versions") or {}).get("sem_cocreate", "")
    seed = man.get("seed", "—")
    text = t("method_para", estimator_long=t(f"est_{est}") if est in ("ML", "MLR", "WLSMV") else est,
             version=version, screening=screening, missing=t(f"miss_{missing}") if missing in ("listwise", "fiml")
             else missing, n_obs=T.fmt_int(folder.n_obs), indirect=indirect, seed=seed)
    group = opts.get("group") or (folder.notes.get("invariance_group") if folder.invariance is not None else None)
    if folder.invariance is not None and not group:
        group = "role"
    text += ("" if lang == "zh" else " ") + (t("method_checks", group=group) if folder.invariance is not None
                                             else t("method_checks_nogroup"))
    text += ("" if lang == "zh" else " ") + t("cite_software", version=version or "")
    if lang != "zh":
        text = " ".join(text.split())
    b.para(text, style="method")
    if folder.simulated:
        b.para(t("method_simulated"), style="note")


def _reproducibility(b: _Builder, folder: ResultsFolder):
    t, lang = b.t, b.lang
    b.heading("s_app_b", level=3)
    man = folder.manifest
    cmd = man.get("command")
    if isinstance(cmd, list):
        import shlex

        cmd = shlex.join(str(c) for c in cmd)
    pairs = [(t("repro_command"), cmd or "—"), (t("repro_seed"), man.get("seed", "—")),
             (t("repro_started"), man.get("started", "—")), (t("repro_ended"), man.get("ended", "—")),
             (t("repro_seconds"), man.get("seconds", "—")),
             (t("repro_model"), folder.notes.get("model_source", "—"))]
    b.blocks.append(Block("table", table=T.key_value_table(pairs, lang=lang)))
    if man.get("inputs"):
        b.heading(t("repro_inputs"), level=4, raw=True)
        b.blocks.append(Block("table", table=T.inputs_table(man, lang=lang)))
    if man.get("versions"):
        b.heading(t("repro_versions"), level=4, raw=True)
        b.blocks.append(Block("table", table=T.versions_table(man, lang=lang)))
    b.para(t("repro_rerun"), style="note")

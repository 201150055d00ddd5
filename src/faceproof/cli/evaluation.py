"""``faceproof evaluate`` and ``faceproof calibrate``: accuracy and thresholds from pair lists.

Registered in :data:`faceproof.cli.main.LAZY_COMMANDS`; imported only when one of them runs.
"""

from __future__ import annotations

import shlex
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from .main import echo_json, guarded

__all__ = ["calibrate_cmd", "evaluate_cmd"]


def _command_line() -> str:
    """The command as typed (for provenance), with the program name normalised."""
    return " ".join(["faceproof", *(shlex.quote(a) for a in sys.argv[1:])])


@contextmanager
def _progress(total: int, label: str) -> Iterator[Callable[[int], None]]:
    with click.progressbar(length=total, label=label, file=sys.stderr, show_pos=True) as bar:
        yield bar.update


def _dataset_name(pairs_file: Path) -> str:
    parent = pairs_file.resolve().parent.name
    return f"{parent}/{pairs_file.name}" if parent else pairs_file.name


pairs_opt = click.option(
    "--pairs",
    "pairs_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
    help="CSV path1,path2,same[,fold] or LFW pairs.txt (View 1 or View 2).",
)
root_opt = click.option(
    "--root",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="Folder the pair paths are relative to (default: the pairs file's folder).",
)
detector_opt = click.option("--detector", default="yunet", show_default=True, help="yunet, dlib or yunet+dlib.")
flip_opt = click.option(
    "--flip/--no-flip", default=None, help="Horizontal-flip test-time augmentation (default: the client's default)."
)
workers_opt = click.option("--workers", type=click.IntRange(1, 64), default=2, show_default=True)
backend_opt = click.option(
    "--parallel",
    "backend",
    type=click.Choice(["process", "thread"]),
    default="process",
    show_default=True,
    help="Worker processes or threads.",
)
cache_opt = click.option(
    "--cache",
    "cache_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Directory for cached embeddings (reused across runs; keyed by model, detector and weights).",
)
limit_opt = click.option(
    "--limit",
    type=click.IntRange(2, None),
    default=None,
    help="Use only the first N/2 same and N/2 different pairs (of each pair list).",
)
seed_opt = click.option("--seed", type=int, default=0, show_default=True, help="Seed for folds and bootstrap.")


def _load(pairs_file: Path, root: Path | None, limit: int | None) -> tuple[Any, Path]:
    from ..evaluation import load_pairs

    pairs = load_pairs(pairs_file)
    if limit is not None and limit < len(pairs):
        pairs = pairs.head(limit)
    return pairs, (root if root is not None else pairs_file.parent)


def _embed(pairs: Any, root: Path, config: Any, workers: int, backend: str, cache_dir: Path | None) -> Any:
    from ..evaluation import embed_images

    paths = pairs.paths()
    with _progress(len(paths), f"embedding ({config.model})") as update:
        return embed_images(paths, root, config, workers=workers, backend=backend, cache_dir=cache_dir, progress=update)


@click.command(name="evaluate")
@pairs_opt
@root_opt
@click.option("--model", default="sface", show_default=True, help="Recognition model: sface or dlib.")
@click.option("--metric", default="cosine", show_default=True, help="Primary metric (all three are reported).")
@detector_opt
@click.option(
    "--face",
    "face_policy",
    type=click.Choice(["center", "largest", "max"]),
    default="center",
    show_default=True,
    help="Primary face policy (all three are reported).",
)
@click.option(
    "--threshold",
    type=float,
    default=None,
    help="A caller's threshold for the primary metric (one for every pair, as verify(threshold=...)).",
)
@click.option(
    "--calibration",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Calibration file whose thresholds replace the built-in ones.",
)
@flip_opt
@click.option(
    "--precision",
    type=click.Choice(["f32", "bf16"]),
    default="f32",
    show_default=True,
    help="SFace's arithmetic (bf16: what the cheaper setting does to the numbers).",
)
@click.option("--folds", type=click.IntRange(2, None), default=10, show_default=True)
@seed_opt
@workers_opt
@backend_opt
@cache_opt
@limit_opt
@click.option(
    "--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None, help="Report directory."
)
@click.option(
    "--groups",
    "groups_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="CSV path,label (e.g. LFW gender.csv): break the results down by group.",
)
@click.option("--json", "as_json", is_flag=True, help="Print report.json instead of the Markdown summary.")
@guarded
def evaluate_cmd(
    pairs_file: Path,
    root: Path | None,
    model: str,
    metric: str,
    detector: str,
    face_policy: str,
    threshold: float | None,
    calibration: Path | None,
    flip: bool | None,
    precision: str,
    folds: int,
    seed: int,
    workers: int,
    backend: str,
    cache_dir: Path | None,
    limit: int | None,
    out_dir: Path | None,
    groups_file: Path | None,
    as_json: bool,
) -> None:
    """Verification accuracy on labelled pairs: k-fold accuracy, ROC AUC, EER, TAR@FAR, best
    threshold; accuracy, TAR and FAR of the library's default decision (each pair's pose-aware
    threshold and the verification cascade, as verify decides), overall and per pose bin,
    beside those of the uniform threshold; pairs without a face count as rejections."""
    from ..evaluation import ClientConfig, evaluate, load_groups, report_markdown, write_report
    from ..runtime.compare import Metric

    Metric.parse(metric)  # fail fast on a bad metric, before any embedding
    pairs, root_ = _load(pairs_file, root, limit)
    groups = load_groups(groups_file) if groups_file is not None else None
    config = ClientConfig(detector=detector, model=model, flip=flip, precision=precision).resolved()
    images = _embed(pairs, root_, config, workers, backend, cache_dir)
    report = evaluate(
        pairs,
        root_,
        config,
        primary_metric=metric,
        primary_policy=face_policy,
        threshold=threshold,
        calibration=calibration,
        folds=folds,
        seed=seed,
        images=images,
        groups=groups,
    )
    command = _command_line()
    if out_dir is not None:
        written = write_report(report, out_dir, command=command)
        click.echo(f"wrote {', '.join(str(p) for p in written)}", err=True)
    if as_json:
        echo_json(report.to_dict())
    else:
        click.echo(report_markdown(report, command))


@click.command(name="calibrate")
@pairs_opt
@root_opt
@click.option("--model", "models", multiple=True, default=("sface",), show_default=True, help="Model(s): sface, dlib.")
@click.option(
    "--metric",
    "metrics",
    multiple=True,
    default=("cosine", "euclidean", "euclidean_l2"),
    show_default=True,
    help="Metric(s) to calibrate.",
)
@click.option("--objective", type=click.Choice(["far", "accuracy"]), default="far", show_default=True)
@click.option("--target-far", type=click.FloatRange(0.0, 1.0, max_open=True), default=1e-3, show_default=True)
@click.option("--bootstrap", type=click.IntRange(0, None), default=1000, show_default=True)
@seed_opt
@click.option(
    "--face", "face_policy", type=click.Choice(["center", "largest", "max"]), default="center", show_default=True
)
@detector_opt
@flip_opt
@click.option(
    "--check",
    "check_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Held-out pairs (same root) to report the chosen thresholds on.",
)
@workers_opt
@backend_opt
@cache_opt
@limit_opt
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Calibration file to write (load it with FaceProof(calibration=...)).",
)
@click.option("--comment", default=None, help="A comment stored in the file.")
@guarded
def calibrate_cmd(
    pairs_file: Path,
    root: Path | None,
    models: Sequence[str],
    metrics: Sequence[str],
    objective: str,
    target_far: float,
    bootstrap: int,
    seed: int,
    face_policy: str,
    detector: str,
    flip: bool | None,
    check_file: Path | None,
    workers: int,
    backend: str,
    cache_dir: Path | None,
    limit: int | None,
    out: Path,
    comment: str | None,
) -> None:
    """Pick a distance threshold per model x metric (target FAR or best accuracy) with a
    bootstrap confidence interval, and write a calibration file."""
    from ..evaluation import ClientConfig, load_pairs, pair_distances, rates_at
    from ..evaluation.calibrate import calibrate_scores, weights_sha256, write_calibration
    from ..runtime.compare import Metric, threshold_key

    metrics_ = [Metric.parse(m) for m in metrics]
    pairs, root_ = _load(pairs_file, root, limit)
    check = load_pairs(check_file) if check_file is not None else None
    if check is not None and limit is not None and limit < len(check):
        check = check.head(limit)
    dataset = _dataset_name(pairs_file)
    command = _command_line()
    date = datetime.now(UTC).strftime("%Y-%m-%d")
    entries: dict[str, dict[str, dict[str, Any]]] = {}
    rows = []
    for model in models:
        config = ClientConfig(detector=detector, model=model, flip=flip).resolved()
        images = _embed(pairs, root_, config, workers, backend, cache_dir)
        check_images = _embed(check, root_, config, workers, backend, cache_dir) if check is not None else None
        for metric in metrics_:
            d = pair_distances(pairs.pairs, images, metric, face_policy)
            result = calibrate_scores(
                d, pairs.labels, objective=objective, target_far=target_far, bootstrap=bootstrap, seed=seed
            )
            goal = f"FAR <= {target_far:g}" if objective == "far" else "best accuracy"
            entry: dict[str, Any] = {
                "source": (
                    f"calibrated on {dataset} ({result.same} same, {result.different} different pairs; "
                    f"{detector}, {face_policy} face, flip {'on' if config.flip else 'off'}): {goal}, "
                    f"95 % bootstrap CI [{result.ci_low:.4f}, {result.ci_high:.4f}]"
                ),
                **result.to_dict(),
                "value": round(result.value, 6),
                "dataset": dataset,
                "detector": detector,
                "face_policy": face_policy,
                "flip": config.flip,
                "weights_sha256": weights_sha256(model),
                "date": date,
                "command": command,
            }
            row = [model, metric.value, f"{result.value:.4f}", f"[{result.ci_low:.4f}, {result.ci_high:.4f}]"]
            row += [f"{100 * result.rates['accuracy']:.2f}", f"{100 * result.rates['far']:.2f}"]
            if check is not None and check_images is not None:
                dc = pair_distances(check.pairs, check_images, metric, face_policy)
                rates = rates_at(dc, check.labels, result.value)
                entry["check"] = {
                    "dataset": _dataset_name(check_file) if check_file else None,
                    "pairs": {"same": int(check.labels.sum()), "different": int((~check.labels).sum())},
                    "rates": rates,
                }
                row += [f"{100 * rates['accuracy']:.2f}", f"{100 * rates['tpr']:.2f}", f"{100 * rates['far']:.2f}"]
            entries.setdefault(threshold_key(model, config.flip), {})[metric.value] = entry
            rows.append(row)
    write_calibration(out, entries, comment=comment, extra={"command": command})
    head = ["model", "metric", "threshold", "95 % CI", "calib. acc %", "calib. FAR %"]
    if check is not None:
        head += ["check acc %", "check TPR %", "check FAR %"]
    click.echo("| " + " | ".join(head) + " |")
    click.echo("|" + "---|" * len(head))
    for row in rows:
        click.echo("| " + " | ".join(row) + " |")
    click.echo(f"wrote {out}", err=True)

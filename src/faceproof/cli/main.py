"""The ``faceproof`` command line.

Exit codes: 0 the same person is present (or the command succeeded), 1 not present,
2 bad input or usage (unreadable image, no face, unknown option value, missing extra),
3 an unexpected internal error (reported in one line, without a traceback).
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click

from ..errors import FaceProofError, InvalidArgument

F = TypeVar("F", bound=Callable[..., Any])

EXIT_SAME, EXIT_NOT_SAME, EXIT_INPUT, EXIT_INTERNAL = 0, 1, 2, 3


def _fail(message: str, code: int) -> None:
    click.echo(f"faceproof: error: {message}", err=True)
    sys.exit(code)


def guarded(func: F) -> F:
    """Turn faceproof errors into exit code 2 and anything unexpected into 3, no traceback."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except FaceProofError as exc:
            _fail(f"{exc.message} [{exc.code}]", EXIT_INPUT)
        except click.exceptions.Exit:
            raise
        except (click.ClickException, SystemExit):
            raise
        except Exception as exc:
            logging.getLogger(__name__).debug("internal error", exc_info=True)
            _fail(f"internal error: {type(exc).__name__}: {exc}", EXIT_INTERNAL)

    return wrapper  # type: ignore[return-value]


def make_client(**kwargs: Any) -> Any:
    from ..client import FaceProof
    from ..runtime.io import URLPolicy

    allow_private = kwargs.pop("allow_private_urls", False)
    options = {k: v for k, v in kwargs.items() if v is not None}
    return FaceProof(url_policy=URLPolicy(allow_private=allow_private), **options)


def echo_json(doc: dict[str, Any]) -> None:
    click.echo(json.dumps(doc, ensure_ascii=False, indent=2))


detector_opt = click.option("--detector", default=None, help="yunet (default), dlib, or yunet+dlib (cross-check).")
confidence_opt = click.option(
    "--min-confidence", "min_detection_confidence", type=float, default=None, help="Detector score threshold."
)
lang_opt = click.option(
    "--lang", type=click.Choice(["ko", "en"]), default="en", show_default=True, help="Message language."
)
json_opt = click.option("--json", "as_json", is_flag=True, help="Print the full result as JSON.")
private_opt = click.option(
    "--allow-private-urls", is_flag=True, help="Allow URLs that resolve to private/loopback addresses."
)


#: Commands defined in other modules, imported only when invoked (or listed by --help):
#: name -> "module:attribute". Each module builds its command with click and reuses
#: ``guarded``, ``make_client`` and ``echo_json`` from here.
LAZY_COMMANDS: dict[str, str] = {
    "batch": "faceproof.cli.batch:batch_cmd",
    "calibrate": "faceproof.cli.evaluation:calibrate_cmd",
    "challenge": "faceproof.cli.challenge:challenge_cmd",
    "check-profile": "faceproof.cli.profile:check_profile_cmd",
    "evaluate": "faceproof.cli.evaluation:evaluate_cmd",
    "evaluate-gender": "faceproof.cli.attributes:evaluate_gender_cmd",
    "index": "faceproof.cli.index:index_cmd",
    "review": "faceproof.cli.review:review",
    "serve": "faceproof.cli.serve:serve",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *LAZY_COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = LAZY_COMMANDS.get(cmd_name)
        if target is None:
            return super().get_command(ctx, cmd_name)
        import importlib

        module_name, attr = target.split(":")
        command: click.Command = getattr(importlib.import_module(module_name), attr)
        return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="faceproof")
@click.option("-v", "--verbose", count=True, help="More logging (-v info, -vv debug).")
def cli(verbose: int) -> None:
    """faceproof: offline face verification (selfie vs profile photos) and analysis."""
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")


@cli.command()
@click.argument("origin")
@click.argument("target")
@click.option("--model", default=None, help="Recognition model: sface (default) or dlib.")
@click.option("--metric", default=None, help="cosine (default), euclidean or euclidean_l2.")
@click.option("--threshold", type=float, default=None, help="Distance threshold (default: the model x metric table).")
@detector_opt
@confidence_opt
@lang_opt
@json_opt
@private_opt
@guarded
def verify(
    origin: str,
    target: str,
    model: str | None,
    metric: str | None,
    threshold: float | None,
    detector: str | None,
    min_detection_confidence: float | None,
    lang: str,
    as_json: bool,
    allow_private_urls: bool,
) -> None:
    """Is the person in ORIGIN (the selfie) present in TARGET? Exit 0 yes, 1 no, 2 bad input."""
    fp = make_client(
        model=model,
        metric=metric,
        detector=detector,
        min_detection_confidence=min_detection_confidence,
        attributes=(),
        lang=lang,
        allow_private_urls=allow_private_urls,
    )
    result = fp.verify(origin, target, threshold)
    if as_json:
        echo_json(result.to_report())
    else:
        click.echo(f"{result.message} (result_code {int(result.code)})")
        if result.error is not None:
            click.echo(f"  {result.error.role}: {result.error.message} [{result.error.code}]", err=True)
        else:
            thr = result.threshold
            click.echo(
                f"  model {result.model}, detector {result.detector}, metric {result.metric.value}, "
                f"threshold {thr.value:g} ({thr.source})"
                if thr
                else ""
            )
            click.echo(f"  faces: origin {len(result.origin_faces)}, target {len(result.target_faces)}")
            click.echo("  similarity (origin faces x target faces):")
            for row in result.similarity:
                click.echo("    " + "  ".join(f"{v:6.3f}" for v in row))
            click.echo("  distance:")
            for row in result.distances:
                click.echo("    " + "  ".join(f"{v:6.3f}" for v in row))
            click.echo(f"  time {result.timings_ms.get('total', 0):.0f} ms")
    if result.verdict is True:
        sys.exit(EXIT_SAME)
    sys.exit(EXIT_NOT_SAME if result.verdict is False else EXIT_INPUT)


@cli.command(name="distinguish")
@click.argument("image")
@detector_opt
@confidence_opt
@lang_opt
@json_opt
@private_opt
@guarded
def distinguish_cmd(
    image: str,
    detector: str | None,
    min_detection_confidence: float | None,
    lang: str,
    as_json: bool,
    allow_private_urls: bool,
) -> None:
    """Gender (and age) of every face in IMAGE, left to right."""
    fp = make_client(
        detector=detector,
        min_detection_confidence=min_detection_confidence,
        lang=lang,
        allow_private_urls=allow_private_urls,
    )
    result = fp.distinguish(image)
    if as_json:
        echo_json(result.to_report())
    else:
        click.echo(f"{result.message} (result_code {int(result.code)})")
        for i, (face, row) in enumerate(zip(result.faces, result.to_dict().get("result_list", []), strict=True)):
            g = row.get("gender", {})
            click.echo(
                f"  face {i} box {face.bbox.as_list(0)}: {row.get('dominant_gender')} "
                f"(Woman {g.get('Woman')}%, Man {g.get('Man')}%), age ~{row.get('age')}"
            )
    sys.exit(EXIT_SAME if result.ok else EXIT_INPUT)


@cli.command(name="faces")
@click.argument("image")
@click.option(
    "--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), required=True, help="Directory for the crops."
)
@click.option("--size", type=int, default=224, show_default=True)
@click.option("--padding", type=float, default=0.2, show_default=True)
@detector_opt
@confidence_opt
@private_opt
@guarded
def faces_cmd(
    image: str,
    out_dir: Path,
    size: int,
    padding: float,
    detector: str | None,
    min_detection_confidence: float | None,
    allow_private_urls: bool,
) -> None:
    """Write the aligned, padded face crops of IMAGE to --out (face_00.png, ...) plus faces.json."""
    from PIL import Image

    # the directory is made before any model runs: a --out that cannot be a directory (a
    # path under a file, no permission) is the caller's input, exit 2, not an internal error
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InvalidArgument(f"--out {out_dir}: cannot create the directory ({exc.strerror})") from None
    fp = make_client(
        detector=detector,
        min_detection_confidence=min_detection_confidence,
        attributes=(),
        allow_private_urls=allow_private_urls,
    )
    crops = fp.get_faces(image, size=size, padding=padding)
    records = []
    try:
        for i, crop in enumerate(crops):
            name = f"face_{i:02d}.png"
            Image.fromarray(crop.image).save(out_dir / name)
            records.append({"file": name, **crop.face.to_dict()})
        (out_dir / "faces.json").write_text(json.dumps(records, indent=2), encoding="utf-8")
    except OSError as exc:  # disk full, directory removed meanwhile
        raise InvalidArgument(f"--out {out_dir}: cannot write the crops ({exc.strerror})") from None
    click.echo(f"{len(crops)} face(s) written to {out_dir}")


@cli.command(name="models")
@guarded
def models_cmd() -> None:
    """Backends, whether they are installed, model files with licences, and thresholds."""
    from ..runtime import registry
    from ..runtime.compare import ThresholdTable
    from ..runtime.models import MODEL_FILES

    echo_json(
        {
            "backends": registry.describe(),
            "model_files": {
                k: {
                    "package": m.distribution,
                    "file": m.resource,
                    "sha256": m.sha256,
                    "license": m.license,
                    "origin": m.origin,
                }
                for k, m in MODEL_FILES.items()
            },
            "thresholds": ThresholdTable.builtin().to_dict(),
        }
    )


def main() -> None:
    cli(prog_name="faceproof")


if __name__ == "__main__":  # pragma: no cover
    main()

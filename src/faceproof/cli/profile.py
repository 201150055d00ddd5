"""``faceproof check-profile SELFIE PHOTO... [--json]``: the selfie-vs-profile decision.

Exit codes: 0 verified, 1 not_verified, 4 needs_review, 2 the check could not be made
(unusable or unreadable selfie, no comparable profile photo, bad option), 3 internal error.
"""

from __future__ import annotations

import sys

import click

from ..errors import InvalidArgument
from .main import EXIT_INPUT, EXIT_NOT_SAME, EXIT_SAME, confidence_opt, detector_opt, echo_json, guarded, make_client

#: Exit code of a ``needs_review`` verdict (0, 1, 2 and 3 keep their ``verify`` meanings).
EXIT_REVIEW = 4


@click.command(name="check-profile")
@click.argument("selfie")
@click.argument("photos", nargs=-1, required=True)
@click.option("--metric", default=None, help="cosine (default), euclidean or euclidean_l2.")
@click.option("--threshold", type=float, default=None, help="Distance threshold (default: the model x metric table).")
@click.option("--policy", "policy_path", default=None, help="JSON file overriding data/policy.json knobs.")
@detector_opt
@confidence_opt
@click.option("--json", "as_json", is_flag=True, help="Print the full result as JSON.")
@click.option("--allow-private-urls", is_flag=True, help="Allow URLs that resolve to private/loopback addresses.")
@click.option(
    "--index", "index_db", default=None, help="Also search this member face index (sqlite:///..., postgresql://...)."
)
@click.option("--member-id", default=None, help="The member being checked (left out of the index search).")
@click.option("--enroll", is_flag=True, help="Enrol the selfie's face in the index when verified.")
@click.option("--challenge", "challenge_token", default=None, help="A challenge token (faceproof challenge) to redeem.")
@click.option("--challenge-secret-file", default=None, help="File holding the challenge secret (>= 32 bytes).")
@click.option(
    "--store",
    "store_url",
    default=None,
    help="Store for spent challenge nonces and accepted selfies' fingerprints (replay check); "
    "default with --challenge: FACEPROOF_STORE_URL or sqlite:///faceproof.db.",
)
@click.option("--no-copy-check", is_flag=True, help="Do not check whether the selfie copies a profile photo.")
@guarded
def check_profile_cmd(
    selfie: str,
    photos: tuple[str, ...],
    metric: str | None,
    threshold: float | None,
    policy_path: str | None,
    detector: str | None,
    min_detection_confidence: float | None,
    as_json: bool,
    allow_private_urls: bool,
    index_db: str | None,
    member_id: str | None,
    enroll: bool,
    challenge_token: str | None,
    challenge_secret_file: str | None,
    store_url: str | None,
    no_copy_check: bool,
) -> None:
    """Is the person who took SELFIE the person in the profile PHOTOs?

    Exit 0 verified, 1 not_verified, 4 needs_review, 2 the check could not be made.
    """
    fp = make_client(
        metric=metric,
        detector=detector,
        min_detection_confidence=min_detection_confidence,
        attributes=(),
        allow_private_urls=allow_private_urls,
    )
    from contextlib import ExitStack

    from ..authenticity import Authenticity, ReplayStore, StoreNonceLedger
    from .challenge import read_secret

    with ExitStack() as stack:
        secret = None if challenge_secret_file is None else read_secret(challenge_secret_file)
        if challenge_token is not None and secret is None:
            raise InvalidArgument("--challenge needs --challenge-secret-file")
        replays = nonces = None
        if store_url is not None or challenge_token is not None:
            from ..storage import open_store

            store = stack.enter_context(open_store(store_url))
            replays, nonces = ReplayStore(store), StoreNonceLedger(store)
        auth = Authenticity(copies=not no_copy_check, replays=replays, nonces=nonces, challenge_secret=secret)
        index = None
        if index_db is not None:
            from ..index import MemberIndex, ModelId

            index = stack.enter_context(MemberIndex(index_db, model=ModelId.from_client(fp.pipeline), actor="cli"))
        result = fp.check_profile(
            selfie,
            list(photos),
            policy=policy_path,
            threshold=threshold,
            index=index,
            member_id=member_id,
            enroll=enroll and index is not None,
            authenticity=auth,
            challenge=challenge_token,
        )
    if as_json:
        doc = result.to_dict()
        for photo in doc["photos"]:
            photo["source"] = photos[photo["index"]]
        echo_json(doc)
    else:
        click.echo(f"{result.verdict.value}: {', '.join(r.value for r in result.reasons)}")
        s = result.selfie
        if s.face is not None and s.face.quality is not None:
            q = s.face.quality
            click.echo(
                f"  selfie: ok, quality {q.score:.2f}, inter-eye {q.inter_eye_px:.0f} px, "
                f"yaw {q.pose.yaw:+.0f} pitch {q.pose.pitch:+.0f}"
                + (f", issues {', '.join(i.value for i in q.issues)}" if q.issues else "")
            )
        else:
            extra = f" ({s.error.message})" if s.error is not None else ""
            click.echo(f"  selfie: {s.status.value}{extra}")
        for p in result.photos:
            line = f"  photo {p.index} {photos[p.index]}: {p.status.value}"
            if p.reasons:
                line += f" ({', '.join(r.value for r in p.reasons)})"
            if p.bbox is not None and p.similarity is not None:
                line += f", face {p.face_index} {p.bbox.as_list(0)} similarity {p.similarity:.3f}"
            if len(p.similarities) > 1:
                line += f", all faces: {' '.join(f'{v:.3f}' for v in p.similarities)}"
            if p.error is not None:
                line += f": {p.error.message} [{p.error.code}]"
            click.echo(line)
        if result.other_person_photos:
            click.echo(f"  one other person is the main face of photos {list(result.other_person_photos)}")
        if result.index is not None:
            for c in result.index.candidates:
                click.echo(
                    f"  index: member {c.member_id} ({c.status}) photo {c.photo_id} "
                    f"similarity {c.similarity:.3f} [{c.band}]"
                )
        a = result.authenticity
        if a.copy is not None and a.copy.best is not None:
            b = a.copy.best
            click.echo(
                f"  copy check: {'COPY of' if a.copy.copied else 'closest'} photo {b.photo_index} "
                f"(correlation {b.correlation:.3f}{', mirrored' if b.mirrored else ''})"
            )
        if a.replay is not None:
            click.echo(
                f"  replay: the selfie was accepted before for member {a.replay.member_id} "
                f"({'same file' if a.replay.exact else f'{a.replay.distance} bits apart'})"
            )
        if a.challenge is not None:
            c = a.challenge
            line = f"  challenge: {c.status}"
            if c.instruction is not None:
                line += f" ({c.instruction.value})"
            if c.pose is not None:
                line += f", yaw {c.pose.pose.yaw:+.0f} roll {c.pose.pose.roll:+.0f}: {c.pose.reason}"
            if c.error is not None:
                line += f": {c.error.message} [{c.error.code}]"
            click.echo(line)
        if result.enrolled:
            click.echo(f"  enrolled the selfie's face under member {member_id}")
        lo, hi = result.band
        click.echo(
            f"  {result.metric.value} distance threshold {result.threshold.value:g}, uncertain within "
            f"({lo:.3f}, {hi:.3f}]; time {result.timings_ms.get('total', 0):.0f} ms"
        )
        for note in result.notes:
            click.echo(f"  note: {note}")
    if not result.checked:
        sys.exit(EXIT_INPUT)
    sys.exit({"verified": EXIT_SAME, "not_verified": EXIT_NOT_SAME}.get(result.verdict.value, EXIT_REVIEW))

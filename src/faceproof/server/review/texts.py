"""The review pages' words in English and Korean: interface labels, and the check's
stable codes (reasons, statuses, quality issues) in plain words."""

from __future__ import annotations

from typing import Literal

__all__ = ["LANGS", "Texts", "texts"]

Lang = Literal["en", "ko"]
LANGS: tuple[Lang, ...] = ("en", "ko")

_CODES: dict[str, tuple[str, str]] = {
    # verdict reasons
    "person_present": ("The member appears in some profile photos", "일부 프로필 사진에 회원 본인이 보입니다"),
    "person_absent": (
        "The member appears in none of the profile photos",
        "어떤 프로필 사진에도 회원 본인이 보이지 않습니다",
    ),
    "score_in_uncertainty_band": (
        "The closest match is too close to the threshold to decide",
        "가장 가까운 비교 점수가 기준값에 너무 가까워 판단할 수 없습니다",
    ),
    "low_quality_match": (
        "The match rests on a poor-quality face (small, blurred, dark or turned)",
        "일치한 얼굴의 품질이 낮습니다 (작거나, 흐리거나, 어둡거나, 돌아간 얼굴)",
    ),
    "low_selfie_quality": ("The selfie's face is of low quality", "셀카 얼굴의 품질이 낮습니다"),
    "person_in_too_few_photos": (
        "The member appears in too few of the profile photos",
        "회원 본인이 보이는 프로필 사진이 너무 적습니다",
    ),
    "consistent_other_person": (
        "Several profile photos show one other person (a possible impersonation)",
        "여러 프로필 사진에 같은 다른 사람이 보입니다 (사칭 가능성)",
    ),
    "no_comparable_photo": ("No profile photo could be compared", "비교할 수 있는 프로필 사진이 없습니다"),
    # photo statuses
    "uncertain": ("Uncertain", "불확실"),
    "unreadable": ("Unreadable", "읽을 수 없음"),
    "no_face": ("No face", "얼굴 없음"),
    "no_usable_face": ("No usable face", "쓸 수 있는 얼굴 없음"),
    # quality issues
    "too_small": ("face too small", "얼굴이 너무 작음"),
    "too_blurry": ("too blurry", "너무 흐림"),
    "too_dark": ("too dark", "너무 어두움"),
    "overexposed": ("overexposed", "노출 과다"),
    "pose_too_extreme": ("head turned too far", "고개가 너무 돌아감"),
    "low_detector_confidence": ("detector unsure it is a face", "얼굴 검출 신뢰도 낮음"),
    "not_confirmed": ("not confirmed by the second detector", "두 번째 검출기가 확인하지 못함"),
    # decisions
    "approved": ("Approved", "승인"),
    "rejected": ("Rejected", "거절"),
    "new_selfie": ("New selfie requested", "새 셀카 요청"),
    "expired": ("Expired", "만료"),
    "opened": ("Opened", "접수"),
    "open": ("Open", "대기"),
}
_STATUS_SHORT: dict[str, tuple[str, str]] = {
    "person_present": ("Member present", "본인 있음"),
    "person_absent": ("Member absent", "본인 없음"),
}

_UI: dict[str, tuple[str, str]] = {
    "title": ("Review desk", "검토 데스크"),
    "queue": ("Queue", "대기열"),
    "summary": ("Summary", "요약"),
    "logout": ("Sign out", "로그아웃"),
    "login": ("Sign in", "로그인"),
    "name": ("Reviewer name", "검토자 이름"),
    "password": ("Password", "비밀번호"),
    "wrong_login": ("Wrong name or password.", "이름 또는 비밀번호가 틀렸습니다."),
    "too_many": (
        "Too many failed sign-ins; wait 15 minutes.",
        "로그인 실패가 너무 많습니다. 15분 후에 다시 시도하세요.",
    ),
    "open_cases": ("Open cases", "대기 중인 사례"),
    "all_reasons": ("All reasons", "모든 사유"),
    "no_cases": ("No open case. Nothing to review.", "대기 중인 사례가 없습니다."),
    "member": ("Member", "회원"),
    "received": ("Received", "접수"),
    "expires": ("Deleted at", "삭제 예정"),
    "reasons": ("Why it needs a person", "검토가 필요한 이유"),
    "closest": ("Closest match", "가장 가까운 일치"),
    "photos": ("Photos", "사진"),
    "selfie": ("Verification selfie", "인증 셀카"),
    "selfie_short": ("Selfie", "셀카"),
    "photo": ("Profile photo", "프로필 사진"),
    "compared": ("Compared faces (aligned as the model saw them)", "비교한 얼굴 (모델이 본 정렬 상태)"),
    "similarity": ("Similarity", "유사도"),
    "distance": ("Distance (lower is more alike)", "거리 (낮을수록 비슷함)"),
    "threshold": ("threshold", "기준값"),
    "band": ("uncertainty band", "불확실 구간"),
    "quality": ("Quality", "품질"),
    "size": ("eyes apart", "눈 사이 거리"),
    "sharpness": ("sharpness", "선명도"),
    "brightness": ("brightness", "밝기"),
    "pose": ("head turn (yaw / pitch)", "고개 각도 (좌우 / 상하)"),
    "score": ("quality score", "품질 점수"),
    "usable": ("usable", "사용 가능"),
    "not_usable": ("not usable", "사용 불가"),
    "faces_in_photo": ("faces", "얼굴"),
    "findings": ("Other findings", "기타 발견 사항"),
    "copy_replay": ("Copy / replay check", "복제 / 재사용 검사"),
    "face_index": ("Face index (other members)", "얼굴 색인 (다른 회원)"),
    "decision": ("Decision", "결정"),
    "note": ("Note (optional, kept in the audit log)", "메모 (선택, 감사 기록에 보관)"),
    "approve": ("Approve", "승인"),
    "reject": ("Reject", "거절"),
    "ask_selfie": ("Ask for a new selfie", "새 셀카 요청"),
    "label_q": ("Same person as the selfie?", "셀카와 같은 사람입니까?"),
    "same": ("same", "같음"),
    "different": ("different", "다름"),
    "unsure": ("can't tell", "모름"),
    "shortcuts": ("Keys: A approve · R reject · S new selfie · N note", "키: A 승인 · R 거절 · S 새 셀카 · N 메모"),
    "shortcuts_queue": ("Keys: J/K next/previous case · Enter open", "키: J/K 다음/이전 사례 · Enter 열기"),
    "decided_title": ("This case is closed", "이 사례는 종료되었습니다"),
    "decided_by": ("Decided by", "결정자"),
    "decided_at": ("at", "시각"),
    "images_deleted": ("Its images were deleted.", "이미지는 삭제되었습니다."),
    "back": ("Back to the queue", "대기열로 돌아가기"),
    "recorded": ("Decision recorded.", "결정이 기록되었습니다."),
    "audit": ("Audit log", "감사 기록"),
    "who": ("Who", "누가"),
    "when": ("When", "언제"),
    "what": ("What", "무엇을"),
    "case": ("Case", "사례"),
    "volume": ("Review volume", "검토 물량"),
    "cases_total": ("cases in the database", "데이터베이스의 사례"),
    "last_7": ("opened in the last 7 days", "최근 7일 접수"),
    "decided": ("decided", "결정됨"),
    "median_wait": ("median hours to a decision", "결정까지 걸린 시간 중앙값"),
    "overruled": ("Decisions against the score", "점수와 다른 결정"),
    "overruled_help": (
        "An approval when the closest comparison was beyond the threshold, or a rejection when it was within.",
        "가장 가까운 비교가 기준값 밖인데 승인했거나, 기준값 안인데 거절한 경우.",
    ),
    "agreed": ("agreed with the score", "점수와 일치"),
    "overruled_n": ("overruled the score", "점수를 뒤집음"),
    "labels": ("Labelled pairs", "표시된 쌍"),
    "awaiting_export": ("awaiting export", "내보내기 대기"),
    "error": ("Error", "오류"),
    "not_found": ("No such case.", "해당 사례가 없습니다."),
    "db_down": (
        "The case database is unavailable. Try again shortly.",
        "사례 데이터베이스를 사용할 수 없습니다. 잠시 후 다시 시도하세요.",
    ),
    "csrf": (
        "The form expired or did not come from this page. Reload and try again.",
        "양식이 만료되었거나 이 페이지에서 온 것이 아닙니다. 새로 고침 후 다시 시도하세요.",
    ),
    "note_too_long": ("The note is too long (at most {n} characters).", "메모가 너무 깁니다 (최대 {n}자)."),
    "already": (
        "Already decided by {who}: {what}. Your decision was not recorded.",
        "{who} 님이 이미 결정했습니다: {what}. 회원님의 결정은 기록되지 않았습니다.",
    ),
    "expired_msg": (
        "The review window of this case ended; its images were deleted.",
        "이 사례의 검토 기간이 끝나 이미지가 삭제되었습니다.",
    ),
    "help": ("Keyboard shortcuts", "단축키"),
    "photo_n": ("Photo {n}", "사진 {n}"),
    "no_image": ("image not kept (unreadable)", "이미지 없음 (읽을 수 없음)"),
}


class Texts:
    def __init__(self, lang: Lang) -> None:
        self.lang: Lang = lang
        self._i = 0 if lang == "en" else 1

    def __call__(self, key: str, **values: object) -> str:
        pair = _UI.get(key)
        text = key if pair is None else pair[self._i]
        return text.format(**values) if values else text

    def code(self, code: str) -> str:
        """A stable code in plain words (the code itself when unknown)."""
        pair = _CODES.get(code)
        return code.replace("_", " ") if pair is None else pair[self._i]

    def status(self, code: str) -> str:
        pair = _STATUS_SHORT.get(code) or _CODES.get(code)
        return code.replace("_", " ") if pair is None else pair[self._i]


def texts(lang: str) -> Texts:
    return Texts("ko" if lang == "ko" else "en")

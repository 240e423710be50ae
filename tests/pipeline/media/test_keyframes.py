"""Keyframe selection on the real recordings: page changes, appearing content, cursor noise."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest

from app.pipeline.media.keyframes import KeyframeHints, extract_keyframes
from app.pipeline.options import KeyframeOptions, MediaLimits
from app.pipeline.types import Keyframe, ProbeInfo
from tests.pipeline.factories import CASES, SCENARIOS, hints_for, media_path, shown_during, truth


@pytest.mark.parametrize(("scenario", "container"), CASES)
def test_every_page_interval_has_a_keyframe(scenario: str, container: str, keyframes_of) -> None:
    keyframes = keyframes_of(scenario, container)
    for page in truth(scenario)["pages"]:
        inside = [k for k in keyframes if page["start"] <= k.timestamp < page["end"]]
        assert inside, f"no keyframe while {page['url']} was shown"


@pytest.mark.parametrize(("scenario", "container"), CASES)
def test_each_on_screen_text_moment_is_covered_by_a_keyframe_of_its_page(
    scenario: str, container: str, keyframes_of
) -> None:
    """The screen state at each truth text moment is represented by a keyframe taken on that page.

    The truth times are when the user talks about the text; the text may have
    appeared earlier, so the keyframe on screen at the moment (or within the
    next 1.5 s) must belong to the same page visit.
    """
    keyframes = keyframes_of(scenario, container)
    pages = truth(scenario)["pages"]
    for item in truth(scenario)["onScreenText"]:
        page = next(p for p in pages if p["start"] <= item["t"] < p["end"])
        window = shown_during(keyframes, item["t"], item["t"] + 1.5)
        assert any(k.timestamp >= page["start"] for k in window), item


@pytest.mark.parametrize(("scenario", "container"), CASES)
def test_error_messages_appearing_get_a_keyframe_within_1_5_s(
    scenario: str, container: str, keyframes_of
) -> None:
    keyframes = keyframes_of(scenario, container)
    for request in truth(scenario)["failedRequests"]:
        answered = request["t"] + request["durationMs"] / 1000
        assert any(answered - 0.1 <= k.timestamp <= answered + 1.5 for k in keyframes), request


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_detector_alone_finds_pages_and_the_first_error(scenario: str, probed) -> None:
    """Without any hints the change detector still finds every page and the first error message."""
    info = probed(scenario, "webm")
    keyframes = extract_keyframes(
        media_path(scenario, "webm"), info, KeyframeOptions(), MediaLimits(), KeyframeHints()
    )
    facts = truth(scenario)
    for page in facts["pages"]:
        assert any(page["start"] <= k.timestamp < page["end"] for k in keyframes)
    first = facts["failedRequests"][0]
    answered = first["t"] + first["durationMs"] / 1000
    assert any(answered - 0.1 <= k.timestamp <= answered + 1.5 for k in keyframes)
    assert all(k.reasons[0] in {"first", "change", "moving", "last"} for k in keyframes)


@pytest.mark.parametrize(("scenario", "container"), CASES)
def test_keyframe_count_is_under_the_cap_and_far_below_frame_count(
    scenario: str, container: str, keyframes_of, probed: Callable[[str, str], ProbeInfo]
) -> None:
    keyframes = keyframes_of(scenario, container)
    assert 2 <= len(keyframes) <= KeyframeOptions().max_keyframes
    assert len(keyframes) * 10 < probed(scenario, container).frame_count
    assert [k.index for k in keyframes] == list(range(len(keyframes)))
    assert [k.timestamp for k in keyframes] == sorted(k.timestamp for k in keyframes)


def _capped_to_8(probed, on_keyframe: Callable[[Keyframe], None] | None = None) -> list[Keyframe]:
    return extract_keyframes(
        media_path("upgrade-checkout", "webm"),
        probed("upgrade-checkout", "webm"),
        KeyframeOptions(max_keyframes=8),
        MediaLimits(),
        hints_for("upgrade-checkout"),
        on_keyframe=on_keyframe,
    )


def test_cap_keeps_the_first_keyframe_and_the_strongest_changes(probed) -> None:
    capped = _capped_to_8(probed)
    assert len(capped) == 8
    assert capped[0].reasons == ("first",) and capped[0].timestamp == 0.0
    # Every page is still represented: page changes are the largest changes.
    for page in truth("upgrade-checkout")["pages"]:
        assert any(page["start"] <= k.timestamp < page["end"] for k in capped)
    assert any("error" in k.reasons for k in capped)
    # Regions are re-measured against the keyframe that now precedes them.
    for k in capped[1:]:
        assert k.changed_region is not None and 0.0 <= k.change_ratio <= 1.0


def test_cursor_movement_alone_makes_no_keyframe(keyframes_of) -> None:
    """In upgrade-checkout only the mouse moves between 0.5 s and 6.5 s (frames exist there)."""
    import av

    with av.open(str(media_path("upgrade-checkout", "webm"))) as c:
        moving = [f.time for f in c.decode(video=0) if 0.5 < f.time < 6.5]
    assert len(moving) > 30, "the fixture has frames (cursor motion) in this interval"
    keyframes = keyframes_of("upgrade-checkout", "webm")
    assert not [k for k in keyframes if 0.5 < k.timestamp < 6.5]


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_keyframes_carry_full_resolution_bgr_and_changed_regions(
    scenario: str, keyframes_of
) -> None:
    keyframes = keyframes_of(scenario, "webm")
    first = keyframes[0]
    assert first.reasons[0] == "first" and first.change_ratio == 1.0
    assert first.changed_region is not None and (
        first.changed_region.w,
        first.changed_region.h,
    ) == (1280, 720)
    for k in keyframes:
        assert k.image.shape == (720, 1280, 3) and k.image.dtype.name == "uint8"
        r = k.changed_region
        assert r is not None and r.x >= 0 and r.y >= 0 and r.x + r.w <= 1280 and r.y + r.h <= 720
    # Local changes (a field, a message) get a local region, not the whole frame.
    local = [k for k in keyframes[1:] if k.change_ratio < 0.05]
    assert local and all(k.changed_region.w * k.changed_region.h < 0.5 * 1280 * 720 for k in local)


def test_click_hints_add_frames_after_clicks(keyframes_of) -> None:
    keyframes = keyframes_of("login-500", "webm")
    clicks = hints_for("login-500").click_times
    tagged = [k for k in keyframes if "click" in k.reasons]
    assert len(tagged) >= len(clicks) - 1
    errors = [k for k in keyframes if "error" in k.reasons]
    assert errors


def test_progress_reports_decode_and_keyframes_up_to_completion(probed) -> None:
    events: list[tuple[str, float, str]] = []
    info = probed("login-500", "webm")
    extract_keyframes(
        media_path("login-500", "webm"),
        info,
        KeyframeOptions(),
        MediaLimits(),
        KeyframeHints(),
        lambda s, f, m: events.append((s, f, m)),
    )
    for stage in ("decode", "keyframes"):
        fractions = [f for s, f, _ in events if s == stage]
        assert len(fractions) >= 3 and fractions == sorted(fractions) and fractions[-1] == 1.0


def _encode(path, width: int, height: int, seconds: float, draw, fps: int = 10):  # type: ignore[no-untyped-def]
    """Encode a constant-frame-rate H.264 clip whose frame at time t is draw(t)."""
    import av

    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"preset": "ultrafast", "crf": "18"}
        for i in range(int(seconds * fps)):
            frame = av.VideoFrame.from_ndarray(draw(i / fps), format="bgr24")
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def test_1080p_thin_line_and_text_are_caught_at_the_moment_they_appear(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Area-averaged luma keeps a 1-pixel red line; a moving cursor is ignored; CFR times exact."""
    import cv2
    import numpy as np

    from app.pipeline.media.probe import probe

    def draw(t: float) -> np.ndarray:
        img = np.full((1080, 1920, 3), 255, np.uint8)
        if t >= 2.0:
            cv2.putText(
                img, "Settings saved", (200, 300), cv2.FONT_HERSHEY_DUPLEX, 2, (30, 30, 30), 3
            )
        if 4.0 <= t < 6.0:  # a cursor-sized shape moving across the page
            x = 300 + int(400 * (t - 4.0))
            cv2.rectangle(img, (x, 600), (x + 16, 624), (0, 0, 0), -1)
        if t >= 6.0:  # a thin red underline, as under an invalid field
            cv2.line(img, (700, 800), (1100, 800), (0, 0, 255), 1)
        return img

    clip = _encode(tmp_path / "thin.mp4", 1920, 1080, 9.0, draw)
    info = probe(clip, MediaLimits())
    assert info.variable_frame_rate is False and abs(info.duration - 8.9) < 0.05
    keyframes = extract_keyframes(clip, info, KeyframeOptions(), MediaLimits(), KeyframeHints())
    assert [k.timestamp for k in keyframes] == [0.0, 2.0, 6.0]
    line = keyframes[2].changed_region
    assert (
        line is not None
        and line.x <= 700
        and line.x + line.w >= 1100
        and line.y <= 800 <= line.y + line.h
    )
    assert line.w * line.h < 0.05 * 1920 * 1080


def test_continuous_motion_is_sampled_not_ignored(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import numpy as np

    from app.pipeline.media.probe import probe

    def draw(t: float) -> np.ndarray:
        img = np.full((360, 640, 3), 255, np.uint8)
        x = int(t * 60) % 500
        img[100:260, x : x + 120] = (40, 120, 200)  # a large block sliding like video content
        return img

    clip = _encode(tmp_path / "motion.mp4", 640, 360, 10.0, draw)
    info = probe(clip, MediaLimits())
    options = KeyframeOptions(max_unsettled_s=2.0)
    keyframes = extract_keyframes(clip, info, options, MediaLimits(), KeyframeHints())
    moving = [k for k in keyframes if "moving" in k.reasons]
    assert 3 <= len(moving) <= 6
    assert all(b.timestamp - a.timestamp >= 1.9 for a, b in itertools.pairwise(moving))


def test_keyframe_images_are_capped_by_memory_too(probed) -> None:  # type: ignore[no-untyped-def]
    info = probed("upgrade-checkout", "webm")
    frame_bytes = 1280 * 720 * 3
    options = KeyframeOptions(max_image_bytes=6 * frame_bytes)
    capped = extract_keyframes(
        media_path("upgrade-checkout", "webm"), info, options, MediaLimits(), KeyframeHints()
    )
    assert len(capped) == 6 and sum(k.image.nbytes for k in capped) <= 6 * frame_bytes


def test_each_kept_keyframe_is_seen_as_it_is_kept_even_those_the_cap_drops(probed) -> None:
    seen: list[tuple[float, object]] = []
    capped = _capped_to_8(probed, lambda kf: seen.append((kf.timestamp, kf.changed_region)))
    times = [t for t, _ in seen]
    assert times == sorted(times) and len(times) > len(capped)  # in order, dropped ones included
    assert {k.timestamp for k in capped} <= set(times)
    assert seen[0][1] is not None and seen[0][0] == 0.0


def test_a_keyframe_shows_the_state_as_it_last_looked_before_it_changed(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Encoders sharpen a new picture over the frames after a big change; a keyframe keeps the
    moment the state appeared but the latest picture of it, the one OCR reads best."""
    import cv2
    import numpy as np

    from app.pipeline.media.probe import probe

    def draw(t: float, ink: int | None = None) -> np.ndarray:
        img = np.full((360, 640, 3), 255, np.uint8)
        if t >= 2.0:
            # First faint, then the final ink: steps too small to count as a change.
            shade = ink if ink is not None else (42 if t < 2.3 else 30)
            cv2.putText(img, "Order placed", (40, 200), cv2.FONT_HERSHEY_DUPLEX, 2, (shade,) * 3, 6)
        return img

    clip = _encode(tmp_path / "sharpen.mp4", 640, 360, 4.0, draw)
    info = probe(clip, MediaLimits())
    keyframes = extract_keyframes(clip, info, KeyframeOptions(), MediaLimits(), KeyframeHints())
    assert [k.timestamp for k in keyframes] == [0.0, 2.0]
    glyphs = cv2.cvtColor(draw(3.0, ink=0), cv2.COLOR_BGR2GRAY) < 128
    ink = float(cv2.cvtColor(keyframes[1].image, cv2.COLOR_BGR2GRAY)[glyphs].mean())
    assert abs(ink - 30) < abs(ink - 42), ink


def test_a_short_word_on_the_rows_of_a_change_is_part_of_its_region(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """On a narrow screen a short first word joins into a cursor-sized blob: it stays in the
    region with the rest of its line; a pointer-sized shape below the change stays out."""
    import cv2
    import numpy as np

    from app.pipeline.media.probe import probe

    def draw(t: float) -> np.ndarray:
        img = np.full((800, 360, 3), 255, np.uint8)
        if t >= 1.0:
            cv2.putText(
                img,
                "Error: payment failed",
                (5, 400),
                cv2.FONT_HERSHEY_SIMPLEX,
                0.5,
                (0, 0, 255),
                1,
            )
            cv2.rectangle(img, (60, 420), (72, 438), (0, 0, 0), -1)  # the pointer, just below
        return img

    clip = _encode(tmp_path / "narrow.mp4", 360, 800, 3.0, draw)
    keyframes = extract_keyframes(
        clip, probe(clip, MediaLimits()), KeyframeOptions(), MediaLimits(), KeyframeHints()
    )
    assert [k.timestamp for k in keyframes] == [0.0, 1.0]
    region = keyframes[1].changed_region
    assert region is not None
    assert region.x <= 5 and region.x + region.w >= 150  # the whole line, "Error:" included
    assert region.y + region.h < 420  # not grown down to the pointer

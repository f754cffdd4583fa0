"""Episode videos (popbased.play.render) of a league member, an exported champion and random
play; bad input."""

import cv2
import pytest

from conftest import popbased, run_one_line_error


def _frames(path):
    capture = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            return frames
        frames.append(frame)


@pytest.mark.slow
def test_render_member_export_and_random(tiny_league_run):
    work = tiny_league_run
    member = popbased(work, "render", "tiny/no_zap/m0", "-o", "m.mp4", "--max-episode-steps", 40)
    assert member.returncode == 0, member.stderr[-3000:]
    frames = _frames(work / "m.mp4")
    assert len(frames) == 41 and frames[0].shape[1] == 3 * 192  # WORLD.RGB of open, x3
    assert "wrote m.mp4: 41 frames" in member.stdout
    if not (work / "champs" / "open").exists():
        assert popbased(work, "export", "champion", "tiny", "-o", "champs").returncode == 0
    exported = popbased(work, "render", "champs/open", "-o", "e.gif", "--max-episode-steps", 12, "-p", "regrowth=0.1")
    assert exported.returncode == 0, exported.stderr[-3000:]
    from PIL import Image

    assert Image.open(work / "e.gif").n_frames == 13
    rand = popbased(work, "render", "--random", "--substrate", "scarcity", "-o", "r.mp4", "--max-episode-steps", 10)
    assert rand.returncode == 0 and len(_frames(work / "r.mp4")) == 11
    before = (work / "r.mp4").stat().st_mtime_ns
    run_one_line_error(popbased(work, "render", "--random", "--substrate", "open", "-o", "r.mp4"), "--force")
    assert (work / "r.mp4").stat().st_mtime_ns == before
    run_one_line_error(popbased(work, "render", "--random", "-o", "r.avi"), ".mp4 or .gif")
    run_one_line_error(popbased(work, "render", "tiny/open/m0", "--random", "-o", "z.mp4"), "not both")
    run_one_line_error(popbased(work, "render", "--random", "--substrate", "opne", "-o", "z.mp4"), "open")
    run_one_line_error(popbased(work, "render", "tiny/open/m7", "-o", "z.mp4"), "no member 'open/m7'")
    assert not (work / "z.mp4").exists()

"""Linking faces across sampled frames into tracks."""

from __future__ import annotations

from model.tracks import distance, link_tracks


def test_distance_is_in_face_sizes_and_refuses_different_sizes():
    assert distance((0, 0, 100, 100), (50, 0, 100, 100)) == 0.5
    assert distance((0, 0, 100, 100), (300, 400, 100, 100)) == 5.0
    assert distance((0, 0, 100, 100), (10, 10, 30, 30)) is None  # a much smaller face nearby


def test_a_moving_face_with_no_overlap_between_samples_stays_one_track():
    boxes = [[(x, 50, 60, 60)] for x in range(0, 500, 50)]  # 50-pixel steps: boxes barely touch
    tracks = link_tracks(boxes)
    assert len(tracks) == 1 and tracks[0].frames == list(range(10))


def test_two_people_are_two_tracks_and_the_main_one_is_seen_most():
    left, right = (40, 40, 80, 80), (400, 60, 100, 100)
    boxes = [[left, right] if frame % 2 else [left] for frame in range(8)]
    tracks = link_tracks(boxes)
    assert [track.id for track in tracks] == [0, 1]
    assert tracks[0].boxes == [left] * 8 and tracks[0].frames == list(range(8))
    assert tracks[1].boxes == [right] * 4 and tracks[1].frames == [1, 3, 5, 7]
    assert tracks[1].members == [(1, 1), (3, 1), (5, 1), (7, 1)]


def test_ties_go_to_the_larger_face():
    small, large = (0, 0, 50, 50), (300, 300, 120, 120)
    tracks = link_tracks([[small, large], [large, small]])
    assert tracks[0].boxes == [large, large] and tracks[1].boxes == [small, small]


def test_a_face_that_jumps_is_a_new_track():
    tracks = link_tracks([[(0, 0, 60, 60)], [(200, 0, 60, 60)]])
    assert [track.frames for track in tracks] == [[0], [1]]


def test_a_missed_face_keeps_its_track_and_may_move_further_across_the_gap():
    boxes = [[(100, 100, 80, 80)], [], [], [(260, 100, 80, 80)]]  # 2 face sizes in 3 sampled frames
    tracks = link_tracks(boxes)
    assert len(tracks) == 1 and tracks[0].frames == [0, 3]


def test_each_face_joins_one_track_at_most():
    """Two faces close to one track: the closer one continues it, the other starts a new track."""
    boxes = [[(100, 100, 80, 80)], [(150, 100, 80, 80), (110, 100, 80, 80)]]
    tracks = link_tracks(boxes)
    assert len(tracks) == 2
    assert tracks[0].members == [(0, 0), (1, 1)] and tracks[1].members == [(1, 0)]


def test_no_faces_no_tracks():
    assert link_tracks([[], [], []]) == [] and link_tracks([]) == []

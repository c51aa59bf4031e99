"""Mood and music style: explicit choice, Thompson sampling with exploration."""

from __future__ import annotations

from collections import Counter

from reels_core.domain import MOODS, MUSIC_STYLES, Preferences, StyleStat
from reels_core.fast_script import choose_style

A = ("calm", "piano")
B = ("energetic", "electronic")
LEARNED = Preferences(style_stats=(StyleStat(*A, bad=10), StyleStat(*B, good=10)))


def test_same_preferences_and_seed_give_the_same_choice():
    assert [choose_style(LEARNED, s) for s in range(30)] == [choose_style(LEARNED, s) for s in range(30)]


def test_a_good_record_wins_most_of_the_time():
    picks = [choose_style(LEARNED, seed) for seed in range(50)]
    assert sum(p == B for p in picks) >= 40


def test_a_bad_record_is_not_locked_out():
    picks = [choose_style(LEARNED, seed) for seed in range(200)]
    assert A in picks


def test_without_stats_every_pair_can_come_up():
    picks = Counter(choose_style(Preferences(), seed) for seed in range(1000))
    assert set(picks) == {(m, s) for m in MOODS for s in MUSIC_STYLES}


def test_explicit_mood_restricts_and_explicit_pair_wins():
    prefs = Preferences(mood="NOSTALGIC ", style_stats=(StyleStat(*B, good=30),))
    picks = {choose_style(prefs, seed) for seed in range(100)}
    assert {m for m, _ in picks} == {"nostalgic"} and len(picks) > 1
    both = Preferences(mood="calm", music_style="ambient", style_stats=(StyleStat(*B, good=30),))
    assert {choose_style(both, seed) for seed in range(50)} == {("calm", "ambient")}


def test_unknown_explicit_values_are_ignored():
    prefs = Preferences(mood="polka", music_style="kazoo")
    mood, style = choose_style(prefs, 1)
    assert mood in MOODS and style in MUSIC_STYLES


def test_disliked_style_is_downweighted_and_favourite_mood_upweighted():
    n = 1000
    disliked = Counter(choose_style(Preferences(disliked_music_styles=("piano",)), s)[1] for s in range(n))
    assert disliked["piano"] < 0.5 * n / len(MUSIC_STYLES)
    favourite = Counter(choose_style(Preferences(favorite_moods=("calm",)), s)[0] for s in range(n))
    assert favourite["calm"] > 1.3 * n / len(MOODS)

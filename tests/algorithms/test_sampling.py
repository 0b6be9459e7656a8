"""Per-round client sampling: seeded, sized as asked, never below the round's minimum."""

from __future__ import annotations

from cohort.workflows.sampling import sample_sites

SITES = [f"site-{i}" for i in range(1, 11)]


def test_all_sites_without_a_sample() -> None:
    assert sample_sites(SITES[::-1], 3, fraction=None, count=None, seed=0) == sorted(SITES)


def test_count_and_fraction_sizes() -> None:
    assert len(sample_sites(SITES, 1, fraction=None, count=4, seed=0)) == 4
    assert len(sample_sites(SITES, 1, fraction=0.25, count=None, seed=0)) == 3  # ceil(2.5)
    assert len(sample_sites(SITES, 1, fraction=None, count=2, seed=0, minimum=5)) == 5
    assert len(sample_sites(SITES, 1, fraction=None, count=50, seed=0)) == 10


def test_seeded_per_round_and_independent_of_listing_order() -> None:
    first = [sample_sites(SITES, r, fraction=0.3, count=None, seed=7) for r in range(1, 20)]
    again = [sample_sites(SITES[::-1], r, fraction=0.3, count=None, seed=7) for r in range(1, 20)]
    assert first == again
    assert len({tuple(s) for s in first}) > 5  # rounds draw different sites
    other = [sample_sites(SITES, r, fraction=0.3, count=None, seed=8) for r in range(1, 20)]
    assert other != first
    assert all(s == sorted(set(s)) and set(s) <= set(SITES) for s in first)


def test_every_site_is_drawn_about_equally() -> None:
    counts = dict.fromkeys(SITES, 0)
    for r in range(1, 2001):
        for s in sample_sites(SITES, r, fraction=None, count=3, seed=1):
            counts[s] += 1
    assert all(abs(c - 600) < 100 for c in counts.values())  # 2000 rounds x 3/10

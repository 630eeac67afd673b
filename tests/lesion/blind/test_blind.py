"""Field of view, selection, refinement and confidence on synthetic dermoscopy scenes built for each failure
the maintainers saw on hidden images: a vignette ring, a lesion touching the border, a pale lesion."""

from __future__ import annotations

import numpy as np
import pytest

from medsegkit import metrics
from medsegkit.lesion.blind.colour_refine import refine_mask
from medsegkit.lesion.blind.confidence import boundary_contrast, confidence
from medsegkit.lesion.blind.fov import field_of_view
from medsegkit.lesion.blind.per_image import blind_mask, select_and_refine
from medsegkit.lesion.blind.selection import candidates, grey_level, score, select_foreground, surrounds_centre
from medsegkit.lesion.clustering.base import ClusterResult
from medsegkit.lesion.clustering.kmeans import KMeansClusterer
from medsegkit.lesion.config import ColourRefineConfig, KMeansConfig

pytestmark = pytest.mark.numeric  # floating-point results: .ci/run repeats these with one thread

SIZE = 96


def scene(
    lesion_colour=(110, 70, 50), centre=(48, 48), radius=16, vignette=None, skin=(215, 160, 135), seed=0
) -> tuple[np.ndarray, np.ndarray]:
    """A noisy skin image with a round lesion; ``vignette`` is the radius (fraction of the half side) beyond
    which the dermoscope's field of view goes black."""
    rows, cols = np.mgrid[0:SIZE, 0:SIZE]
    lesion = np.hypot(rows - centre[0], cols - centre[1]) < radius
    image = np.empty((SIZE, SIZE, 3))
    image[:] = skin
    image[lesion] = lesion_colour
    image += np.random.default_rng(seed).normal(0, 4, image.shape)
    if vignette is not None:
        outside = np.hypot(rows - SIZE / 2, cols - SIZE / 2) > vignette * SIZE / 2
        image[outside] = 8
    return np.clip(image, 0, 255).astype(np.uint8), lesion


def test_field_of_view_of_a_vignette_ring_is_the_lit_circle():
    image, _ = scene(vignette=0.95)
    fov = field_of_view(image)
    rows, cols = np.mgrid[0:SIZE, 0:SIZE]
    circle = np.hypot(rows - SIZE / 2, cols - SIZE / 2) <= 0.95 * SIZE / 2
    assert metrics.dice(fov, circle) > 0.98


@pytest.mark.parametrize(
    "kwargs", [{}, {"centre": (48, 6), "radius": 20, "lesion_colour": (60, 35, 25)}], ids=["plain", "dark-at-border"]
)
def test_no_vignette_means_the_whole_image(kwargs):
    image, _ = scene(**kwargs)  # a dark lesion touching the border is not a vignette
    assert field_of_view(image).all()


def test_the_vignette_ring_is_never_the_lesion():
    image, lesion = scene(vignette=0.95, lesion_colour=(150, 100, 80))
    clusters = np.zeros((SIZE, SIZE), int)
    clusters[lesion] = 1
    clusters[~field_of_view(image)] = 2  # the black ring: darker than the lesion and closing a ring around it
    assert metrics.dice(select_foreground(image, clusters, fov=field_of_view(image)), lesion) > 0.97
    found = blind_mask(image, KMeansClusterer().segment(image, 0), seed=0, refine=None)
    assert metrics.dice(found.mask, lesion) > 0.9 and found.fov.mean() < 0.9


def soft_vignette(image: np.ndarray, lesion: np.ndarray, darkest: float = 0.3) -> tuple[np.ndarray, np.ndarray]:
    """Dim ``image`` towards its corners, down to ``darkest`` of its brightness: a vignette too light for the field
    of view's detection; returns the dimmed image and a cluster map (1 lesion, 2 the dim ring, 0 the rest). The
    ring is open at the top, as where a real one is lighter, so that filling its holes does not take the image."""
    rows, cols = np.mgrid[0:SIZE, 0:SIZE]
    radius = np.hypot(rows - SIZE / 2, cols - SIZE / 2) / (SIZE / 2)  # 1 at the middle of each side
    gain = np.clip(1 - (1 - darkest) * (radius - 0.75) / (np.sqrt(2) - 0.75), darkest, 1)
    dimmed = (image * gain[..., None]).astype(np.uint8)
    ring = (radius > 0.9) & ~((rows < SIZE // 4) & (abs(cols - SIZE / 2) < SIZE / 8))
    clusters = np.where(lesion, 1, np.where(ring, 2, 0))
    return dimmed, clusters


def test_a_soft_vignette_ring_is_never_the_lesion():
    image, lesion = scene(lesion_colour=(175, 120, 100))  # lighter than the ring's darkest part
    image, clusters = soft_vignette(image, lesion)
    assert field_of_view(image).all()  # too light to be cut away: the selection must know a ring from a lesion
    assert metrics.dice(select_foreground(image, clusters), lesion) > 0.97


@pytest.mark.parametrize(
    ("shape", "expected"),
    [("open-ring", True), ("beside", False), ("covering", False), ("pale-middle", False), ("corner", False)],
)
def test_surrounds_centre(shape, expected):
    rows, cols = np.mgrid[0:SIZE, 0:SIZE]
    radius = np.hypot(rows - SIZE / 2, cols - SIZE / 2)
    region = {
        "open-ring": (radius > 40) & (cols > 8),  # along the frame, open on the left
        "pale-middle": (radius > 6) & (radius < 30),  # a lesion whose middle is lighter: it encloses the centre
        "beside": np.hypot(rows - 48, cols - 75) < 24,  # convex, near the centre but missing it
        "covering": radius < 30,
        "corner": np.hypot(rows, cols) < 30,
    }[shape]
    assert surrounds_centre(region.astype(int), 1).tolist() == [expected]


def test_a_lesion_lighter_than_its_skin_is_found():
    image, lesion = scene(lesion_colour=(245, 215, 205))  # a pale scar-like lesion on darker skin
    clusters = lesion.astype(int)
    assert not select_foreground(image, clusters).any()  # the darker cluster is the skin around it: no lesion
    assert metrics.dice(select_foreground(image, clusters, paler=True), lesion) > 0.97
    image, _ = soft_vignette(image, lesion, darkest=0.6)  # the skin dims towards the frame, as in HAM10000
    found = blind_mask(image, KMeansClusterer().segment(image, 0), seed=0, refine=None)
    assert found.paler and metrics.dice(found.mask, lesion) > 0.9


def test_a_pale_lesion_inside_a_darker_halo_is_found():
    image, lesion = scene(lesion_colour=(250, 235, 235), skin=(215, 150, 160))  # a white lesion on pink skin
    rows, cols = np.mgrid[0:SIZE, 0:SIZE]
    halo = ~lesion & (np.hypot(rows - 48, cols - 48) < 24)
    image[halo] = (185, 120, 130)  # with a darker pink halo: the darker search's best is halo and lesion
    clusters = np.where(lesion, 0, np.where(halo, 1, 2))
    for refine in (None, ColourRefineConfig()):
        found = blind_mask(image, ClusterResult(clusters), seed=0, refine=refine)
        assert found.paler and metrics.dice(found.mask, lesion) > 0.95


def test_a_darker_lesion_in_either_clustering_wins_over_a_paler_one():
    image, lesion = scene()
    found = blind_mask(image, KMeansClusterer().segment(image, 0), seed=0, refine=None)
    assert not found.paler and metrics.dice(found.mask, lesion) > 0.9


def test_a_lesion_touching_the_border_is_found():
    image, lesion = scene(centre=(48, 20), radius=24)  # cut by the frame; its centre is within 0.6 of the middle
    found = blind_mask(image, KMeansClusterer().segment(image, 0), seed=0, refine=None)
    assert metrics.dice(found.mask, lesion) > 0.9


def test_a_pale_lesion_is_found_and_refined():
    image, lesion = scene(lesion_colour=(195, 140, 120))  # barely darker than the skin
    found = blind_mask(image, KMeansClusterer(KMeansConfig(num_clusters=2)).segment(image, 0), seed=0, refine=None)
    assert metrics.dice(found.mask, lesion) > 0.85
    shrunk = np.zeros_like(lesion)
    shrunk[lesion] = True
    shrunk &= np.roll(lesion, 6, axis=0) & np.roll(lesion, -6, axis=0)  # the selection missed the rim
    assert metrics.dice(refine_mask(image, shrunk), lesion) > metrics.dice(shrunk, lesion)


def test_confidence_is_lower_for_a_failure_than_for_a_success():
    image, lesion = scene()
    second = blind_mask(image, KMeansClusterer().segment(image, 0), seed=0, refine=None).mask
    good = confidence(image, lesion, lesion, second)
    wrong = np.zeros_like(lesion)
    wrong[70:90, 5:40] = True  # a patch of skin chosen as the lesion
    bad = confidence(image, wrong, wrong, second)
    assert good["confidence"] > 0.5 > bad["confidence"]
    assert good["agreement"] > 0.9 and bad["agreement"] == 0.0
    assert boundary_contrast(image, lesion) > 3 * boundary_contrast(image, wrong)


def test_a_mask_running_to_the_border_scores_lower_however_clear_its_edge():
    image, lesion = scene()
    leak = lesion.copy()
    leak[:40, 46:] = True  # the lesion and a patch of dark skin out to the top right corner
    image[leak & ~lesion] = (120, 80, 60)
    assert boundary_contrast(image, leak) > boundary_contrast(image, lesion)  # the edge alone would take the leak
    grey = grey_level(image)
    assert score(leak, grey) < score(lesion, grey)
    assert score(np.zeros_like(lesion), grey) == float("-inf")  # an empty mask never wins


def cored_lesion_with_a_skin_band() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A brown lesion with a dark core, and a cluster map that lumps a band of skin from the lesion out to the
    right border with the lesion's cluster: ``(image, clusters, lesion)``. As unions of clusters the core
    (k = 1) has the clearer edge; the lesion with its band (k = 2) runs to the border."""
    image, lesion = scene(lesion_colour=(110, 110, 110), radius=20, skin=(190, 190, 190))
    rows, cols = np.mgrid[0:SIZE, 0:SIZE]
    core = np.hypot(rows - 48, cols - 48) < 8
    image[core] = np.clip(image[core].astype(int) - 70, 0, 255).astype(np.uint8)
    clusters = np.where(core, 2, np.where(lesion, 1, 0))
    clusters[40:56, 48:] = np.maximum(clusters[40:56, 48:], 1)
    return image, clusters, lesion


def test_candidates_are_the_distinct_unions_of_the_darkest_clusters():
    image, clusters, lesion = cored_lesion_with_a_skin_band()
    found = list(candidates(image, clusters))
    assert len(found) == 2 and found[0].sum() < lesion.sum() < found[1].sum()  # the core, then lesion and band
    image[:6, :6], clusters[:6, :6] = 60, 3  # a dark corner, between the core and the lesion: cleaned away
    assert [m.sum() for m in candidates(image, clusters)] == [m.sum() for m in found]  # core + corner = core


def test_each_union_is_scored_by_its_refined_mask():
    image, clusters, lesion = cored_lesion_with_a_skin_band()
    fov = np.ones(lesion.shape, bool)
    core_first = refine_mask(image, select_foreground(image, clusters))
    assert metrics.dice(core_first, lesion) < 0.5  # refining the best union leaves the core
    chosen = select_and_refine(image, clusters, fov, ColourRefineConfig(), paler=False)
    assert chosen.union[44, 90] and metrics.dice(chosen.mask, lesion) > 0.9  # the band's union, refined
    assert np.array_equal(chosen.clearest, select_foreground(image, clusters))  # the core, for the confidence
    unrefined = select_and_refine(image, clusters, fov, None, paler=False)
    assert all(np.array_equal(m, chosen.clearest) for m in unrefined[:3])  # no refinement: the clearest union
    assert len(chosen.scored) == 2 and any(np.array_equal(m, chosen.mask) for _, m, _ in chosen.scored)

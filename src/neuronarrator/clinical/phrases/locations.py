"""Where: region compounds, electrodes and the phrases that place a lateralized finding."""

from __future__ import annotations

# --- Locations ------------------------------------------------------------------------------------------
#: Compound adjectives neurologists use for two adjacent regions (keys in REGIONS order).
REGION_COMPOUNDS: dict[tuple[str, str], str] = {
    ("frontal", "central"): "frontocentral",
    ("frontal", "temporal"): "frontotemporal",
    ("central", "temporal"): "centrotemporal",
    ("central", "parietal"): "centroparietal",
    ("temporal", "parietal"): "temporoparietal",
    ("temporal", "occipital"): "temporo-occipital",
    ("parietal", "occipital"): "parieto-occipital",
}

#: Electrodes that name one (side, region) without ambiguity, new name first, old name second.
#: F7/F8 and P7/P8 (T5/T6) sit between two regions, so they are written only for that pair.
ELECTRODES: dict[tuple[str, frozenset[str]], tuple[str, str]] = {
    (side, frozenset(regions)): names
    for side, regions, names in (
        ("left", ("frontal",), ("F3", "F3")), ("left", ("central",), ("C3", "C3")),
        ("left", ("temporal",), ("T7", "T3")), ("left", ("parietal",), ("P3", "P3")),
        ("left", ("occipital",), ("O1", "O1")), ("right", ("frontal",), ("F4", "F4")),
        ("right", ("central",), ("C4", "C4")), ("right", ("temporal",), ("T8", "T4")),
        ("right", ("parietal",), ("P4", "P4")), ("right", ("occipital",), ("O2", "O2")),
        ("midline", ("frontal",), ("Fz", "Fz")), ("midline", ("central",), ("Cz", "Cz")),
        ("midline", ("parietal",), ("Pz", "Pz")),
        ("left", ("frontal", "temporal"), ("F7", "F7")), ("right", ("frontal", "temporal"), ("F8", "F8")),
        ("left", ("temporal", "parietal"), ("P7", "T5")), ("right", ("temporal", "parietal"), ("P8", "T6")),
    )
}  # fmt: skip

#: Prepositional phrases placing a lateralized finding ({loc} = "left temporal"). {el} is an electrode that
#: alone names side and region (T7: left temporal); {elx} may also be a two-region electrode (F7), so it is
#: written only next to the region words.
WHERE_REGION = (
    "over the {loc} {region}",
    "in the {loc} {region}",
    "over the {loc} head {region}",
    "in the {loc} {region} ({elx})",
    "over the {loc} {region} (maximal at {elx})",
)
#: Electrode-only placements: used only where ``{el}`` alone names side and region.
WHERE_ELECTRODE = ("at {el}", "maximal at {el}", "centered at {el}")
WHERE_HEMISPHERE = (
    "over the {side} hemisphere",
    "in the {side} hemisphere",
    "involving the {side} hemisphere",
)
WHERE_BILATERAL = ("over both {regions_word} regions", "bilaterally in the {regions_word} regions",
                   "over the {regions_word} regions bilaterally")  # fmt: skip
WHERE_MIDLINE = ("in the midline ({el})", "at {el}", "over the midline {regions_word} region")
#: Midline placements of an area (slowing, lower amplitude): region words, the electrode only in parentheses.
WHERE_MIDLINE_REGION = (
    "over the midline {regions_word} region",
    "in the midline {regions_word} region ({el})",
)
#: A bilateral finding with no region: both hemispheres, independently ("bilateral slowing" alone would read as
#: generalized).
WHERE_BOTH_HEMISPHERES = ("independently over both hemispheres", "over both hemispheres independently")
#: Fields of focal discharges next to their region words.
FIELDS = ("", " phase reversing at {elx}", " (maximal at {elx})", " with phase reversal at {elx}")

"""From a vertebral body mask to ordered, labelled vertebrae with QA notes.

``labelling`` runs the steps; ``split`` separates touching bodies; ``facing`` finds the
anterior side; ``geometry`` holds the spine curve; ``levels`` the level names and the
size-based suggested labelling.
"""

from morpho.label.geometry import SpineCurve
from morpho.label.labelling import Labelling, Vertebra, label_bodies, spine_only
from morpho.label.levels import LEVELS, TYPICAL_MM, check_level, level_names, suggest_levels

__all__ = [
    "LEVELS", "TYPICAL_MM", "Labelling", "SpineCurve", "Vertebra", "check_level",
    "label_bodies", "level_names", "spine_only", "suggest_levels",
]

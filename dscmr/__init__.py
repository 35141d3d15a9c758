"""The project's bottom layer: what every other package may import, and which imports none of them."""
from pathlib import Path

# The repository (an editable install runs the code where it was cloned): prototxt/, data/, results/.
REPO = Path(__file__).resolve().parent.parent

"""Constants shared by the Home Assistant layer of LiveOne Enphase."""

from typing import Final

DOMAIN: Final = "liveone_enphase"

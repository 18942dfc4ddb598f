"""LiveOne Enphase: Enphase cloud data in Home Assistant, pushed on to LiveOne."""

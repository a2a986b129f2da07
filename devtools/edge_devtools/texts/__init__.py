"""Hand-written text tables that scripts/make_data.py turns into the committed files under data/."""

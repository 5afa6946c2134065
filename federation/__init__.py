"""The federation hub: receives every centre's events, shows and exports the figures."""

"""Sync: the lowest layer, shared by the kiosk and the hub. Imports neither."""

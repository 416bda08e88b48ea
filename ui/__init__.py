"""Flask apps of the box: the JSON API (and, later, the officer UI, kiosk and display)."""

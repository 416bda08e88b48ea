"""Device drivers and simulators (printers, POS terminals, rating keypads) — arrives with its own issue."""

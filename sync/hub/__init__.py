"""The provincial hub: the other end of sync, the fleet view for provincial IT."""

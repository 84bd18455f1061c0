"""flowc's engine layer."""

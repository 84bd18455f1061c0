"""flowc's web layer."""

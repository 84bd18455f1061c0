"""flowc's compiler layer."""

"""The workflow format: model, loading, validation, templates and schema."""

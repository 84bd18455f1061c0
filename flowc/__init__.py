"""flowc: compile LLM workflows into execution plans and run them on a paged-KV engine."""

"""Paged KV memory: block pool and radix prefix cache."""

"""Plan renderers: text, json, dot, html."""

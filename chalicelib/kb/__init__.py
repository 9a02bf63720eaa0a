"""The knowledge base: articles that answer visitors as they type. `text` and `index` are its pure search."""

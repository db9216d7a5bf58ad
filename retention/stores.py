"""The retention app's own stores (workspace closure). Imported from ready()."""

# Filled by a later issue; see docs/roadmap.md.

"""A fast, vectorised torch re-implementation of commons_harvest (issue 14)."""

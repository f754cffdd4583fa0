"""A fast, vectorised torch re-implementation of commons_harvest, validated against Melting Pot."""

"""The study's variants of commons_harvest, one module each (Melting Pot's style).

Each module sets DESCRIPTION, DEFAULTS (parameters the user may override) and FIXED
(parameters that define the variant). Any variant also accepts the other parameters
of `popbased.substrates.params.CommonsParams`, so variants combine: e.g.
`no_zap` with `regrowth=0.5` is no_zap under scarcity.
"""

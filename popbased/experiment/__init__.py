"""Experiments: arms x seeds of training runs (`popbased experiment run FILE`), each run's
champion evaluated on real Melting Pot with the same episode seeds, aggregated across seeds
with rliable (IQM, stratified-bootstrap CIs, probability of improvement, performance profiles:
`stats`, drawn by `figures`): a CI over the evaluation episodes of one trained policy says
nothing about the method that trained it."""

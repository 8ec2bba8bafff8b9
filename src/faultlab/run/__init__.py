"""Running an experiment: the runner, continuous SLO evaluation, verdicts and outputs."""

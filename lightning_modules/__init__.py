"""The paper's experiments as Lightning modules, callbacks and plain networks."""

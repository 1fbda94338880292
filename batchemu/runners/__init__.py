"""Runners execute one job attempt each; the scheduler knows them only through runners.base.Runner."""

"""The ``cohort`` command line: one module per command group, calling the SDK only."""

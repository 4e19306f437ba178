"""Customer credit score: the harness around the dbt project (generate, load, build, demo)."""

__version__ = "0.1.0"

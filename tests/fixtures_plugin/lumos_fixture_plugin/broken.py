"""A plugin module that cannot be imported (a broken plugin must be reported and skipped)."""

raise ImportError("this plugin is broken on purpose")

"""The 8 quality categories, one module each; ``common`` holds what they share.

Each module exposes ``<category>_checks(schema) -> list[Check]``; ``tasks.quality.suites.build_checks``
runs them in the report's category order.
"""

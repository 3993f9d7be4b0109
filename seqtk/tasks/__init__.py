"""The task API: ``Task``, its step boundary, learned state, the lifecycle, evaluation, the registry.

See docs/architecture.md for the areas and the order in which they may import each other."""

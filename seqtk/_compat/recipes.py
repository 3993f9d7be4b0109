"""``seqtk.recipes``, the path before the areas became folders: finding recipe files
(:mod:`seqtk.config.recipes`) and loading one (:func:`seqtk.tasks.loading.load_recipe`)."""

from seqtk.config.recipes import ENV_RECIPES, bundled_recipes, first_line, locate, recipe_dirs
from seqtk.tasks.loading import load_recipe

__all__ = ["ENV_RECIPES", "bundled_recipes", "first_line", "load_recipe", "locate", "recipe_dirs"]

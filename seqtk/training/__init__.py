"""The trainer's area: what turns a recipe and a task into a run folder.

- :mod:`.train`: :func:`~seqtk.training.train.run_training`, the loop (devices, precision, optimiser
  steps, evaluation, checkpoints, resume); also ``from seqtk import run_training``;
- :mod:`.optim`: optimisers and learning-rate schedules from ``[train]``;
- :mod:`.best`: which checkpoint is best, and when patience stops a run;
- :mod:`.checkpoint`: the checkpoint format, written atomically and read without running code;
- :mod:`.runs`: run folders (new, resumed, ``config.toml``);
- :mod:`.gradients`: gradients through time, logged at evaluations;
- :mod:`.distributed`: torchrun / DistributedDataParallel.

No plugin needs these: a task meets the trainer through :class:`seqtk.task.Task` and
:class:`seqtk.step.StepOutput`. Importing this package imports nothing.
"""

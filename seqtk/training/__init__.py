"""The trainer's area: what turns a recipe and a task into a run folder.

- :mod:`.train`: :func:`~seqtk.training.train.run_training`, which readies a run (device, run folder and
  its lock, task, time budget); also ``from seqtk import run_training``;
- :mod:`.session`: the loop of one run (precision, optimiser steps, evaluation, checkpoints, resume);
- :mod:`.budget`: ``train.time_budget``, which times a few throwaway steps and fixes ``max_steps``;
- :mod:`.ema`: ``train.ema_decay``, the moving average of the weights that is evaluated and saved;
- :mod:`.optim`: optimisers and learning-rate schedules from ``[train]``;
- :mod:`.best`: which checkpoint is best, and when patience stops a run;
- :mod:`.checkpoint`: the checkpoint format, written atomically and read without running code;
- :mod:`.runs`: run folders (new, resumed, ``config.toml``);
- :mod:`.gradients`: gradients through time, logged at evaluations;
- :mod:`.distributed`: torchrun / DistributedDataParallel.

No plugin needs these: a task meets the trainer through :class:`seqtk.tasks.task.Task` and
:class:`seqtk.tasks.step.StepOutput`. Importing this package imports nothing.
"""

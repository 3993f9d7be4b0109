"""The ``forecast`` task: sliding-window forecasting of a univariate time series.

Modules: :mod:`.config` (the recipe's ``[data]`` and ``[model]`` sections),
:mod:`.series` (the Mauna Loa CO2 and sunspot series from the statsmodels
wheel, or a CSV of your own), :mod:`.windows` (chronological splits,
normalisation fitted on train, windows and the naive baselines) and
:mod:`.task` (``ForecastTask``). Importing this package imports nothing else.

``recipes/forecast_co2.toml`` (24 months in, 12 out, an LSTM of 64 units,
1,500 steps, seed 0) beats both baselines on the held-out test years
1995-2001: MAE 0.51 ppm against 2.65 for the naive (last value) and 1.69 for
the seasonal-naive forecast, 81% and 70% less error.
"""

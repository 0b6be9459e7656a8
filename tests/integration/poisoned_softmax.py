"""Site script for the poisoning tests: Cohort's built-in softmax regression
(``tabular_softmax.py``, shipped next to this file in the job), except that the site named by
``POISON_SITE`` poisons every training update it sends: ``POISON=nan`` puts a NaN in its
weights, ``POISON=scale`` scales its whole model x1000. Other sites, and ``POISON`` unset,
train honestly."""

from __future__ import annotations

import dataclasses
import os

import numpy as np
import tabular_softmax  # type: ignore[import-not-found]

import cohort.client as flare

_send = flare.send


def _poisoned_send(model: flare.FLModel) -> None:
    mode = os.environ.get("POISON", "")
    if mode and flare.is_train() and flare.get_site_name() == os.environ.get("POISON_SITE"):
        params = {k: np.array(v, copy=True) for k, v in model.params.items()}
        if mode == "nan":
            params["w"][0, 0] = np.nan
        elif mode == "scale":
            params = {k: v * 1000 for k, v in params.items()}
        model = dataclasses.replace(model, params=params)
    _send(model)


flare.send = _poisoned_send  # the built-in script calls flare.send at call time
tabular_softmax.main()

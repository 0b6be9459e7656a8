"""Cohort site script (cohort.client): receive the global model, train, send it back.

workloads.py sits next to this file; the workload comes from the script's first argument.
"""

import sys

import workloads

import cohort.client as flare

WORKLOAD = sys.argv[1] if len(sys.argv) > 1 else "overhead"

flare.init()
index = workloads.site_index(flare.get_site_name())
while flare.is_running():
    model = flare.receive()
    names = sorted(model.params)
    params = [model.params[k] for k in names]
    if WORKLOAD == "parity":
        new, samples = workloads.parity_train(params, index), workloads.PARITY_SAMPLES
    else:
        new, samples = workloads.overhead_step(params), 10
    flare.send(
        flare.FLModel(params=dict(zip(names, new, strict=True)), meta={"num_samples": samples})
    )

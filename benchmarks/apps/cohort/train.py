"""Cohort site script (cohort.client): receive the global model, train, send it back.

workloads.py sits next to this file. Arguments: the workload, and the number of parameters
(for a model too large to ship in the job folder, the first site supplies the initial model).
"""

import sys

import workloads

import cohort.client as flare

WORKLOAD = sys.argv[1] if len(sys.argv) > 1 else "overhead"
N_PARAMS = int(sys.argv[2]) if len(sys.argv) > 2 else 0

flare.init()
index = workloads.site_index(flare.get_site_name())
while flare.is_running():
    model = flare.receive()
    if model is None:
        break
    if flare.is_submit_model():
        init = {f"p{i}": a for i, a in enumerate(workloads.initial_params(N_PARAMS))}
        flare.send(flare.FLModel(params=init, meta={"num_samples": 1}))
        continue
    names = sorted(model.params)
    params = [model.params[k] for k in names]
    if WORKLOAD == "parity":
        new, samples = workloads.parity_train(params, index), workloads.PARITY_SAMPLES
    else:
        new, samples = workloads.overhead_step(params), 10
    flare.send(
        flare.FLModel(params=dict(zip(names, new, strict=True)), meta={"num_samples": samples})
    )

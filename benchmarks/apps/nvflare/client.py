"""NVIDIA FLARE client script (client API): receive the global model, train, send it back.

NVFlare's NumPy FedAvg keeps the model as one array under "numpy_key"; the training step is
the same as on the other platforms (workloads.py sits next to this file).
"""

import nvflare.client as flare
import workloads

flare.init()
while flare.is_running():
    model = flare.receive()
    params = [model.params["numpy_key"]]
    new = workloads.overhead_step(params)[0]
    flare.send(flare.FLModel(params={"numpy_key": new}, meta={"NUM_STEPS_CURRENT_ROUND": 10}))

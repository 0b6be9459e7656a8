"""ClientApp: one 'train' message in, the trained arrays and the sample count out."""

import numpy as np
from flwr.app import ArrayRecord, Context, Message, MetricRecord, RecordDict
from flwr.clientapp import ClientApp

from benchapp import workloads

app = ClientApp()


@app.train()
def train(msg: Message, context: Context) -> Message:
    params = msg.content["arrays"].to_numpy_ndarrays()
    if context.run_config["workload"] == "parity":
        index = int(context.node_config["partition-id"])
        new = workloads.parity_train(params, index)
        samples = workloads.PARITY_SAMPLES
    else:
        new = workloads.overhead_step(params)
        samples = 10
    content = RecordDict(
        {
            "arrays": ArrayRecord([np.asarray(p) for p in new]),
            "metrics": MetricRecord({"num-examples": samples}),
        }
    )
    return Message(content=content, reply_to=msg)

"""`detector retrain`, the live half of the model lifecycle: readings from Kafka in a group of
its own, challengers trained in a child process, the gate and the store of detector.lifecycle,
promoted bundles written into the model directory and published to the model topic."""

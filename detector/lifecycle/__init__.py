"""The model lifecycle: the cleaning rule, the promotion gate, the backtest loop, the model store.

`cleaning` and `gate` are pure (NumPy only); `backtest` runs them row by row with a trainer
passed in; `store` keeps a model directory's bundles. No Kafka, no TensorFlow here.
"""

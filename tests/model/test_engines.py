"""The NumPy engine computes what the Keras model computes."""

import numpy as np

from detector.core.bundle import load_bundle
from detector.core.inference import KerasEngine, NumpyDense, keras_model
from detector.core.scoring import Scorer
from producer.simulator import Simulator


def test_numpy_and_keras_engines_agree(bundles):
    bundle = load_bundle(bundles["pot"])
    fast, keras = Scorer(bundle), Scorer(bundle, engine="keras")
    assert isinstance(fast.engine, NumpyDense) and isinstance(keras.engine, KerasEngine)
    values = Simulator(devices=5, anomaly_rate=0.02, seed=4).block(2000).values
    values = np.concatenate([values, np.random.default_rng(0).uniform(-500, 500, (1000, 5))])
    a, b = fast.score(values), keras.score(values)
    assert np.allclose(a.reconstruction, b.reconstruction, rtol=1e-4, atol=1e-3)
    assert np.allclose(a.error, b.error, rtol=1e-3, atol=1e-7)
    assert np.array_equal(a.top_channel, b.top_channel)


def test_the_keras_model_in_the_bundle_loads_with_the_bundles_shape(bundles):
    model = keras_model(load_bundle(bundles["pot"]))
    assert model.input_shape[1:] == (1, 5)

"""The runtime stages: io -> detect -> align -> embed -> compare (and attributes), the
backend registry and model files, and the :class:`~faceproof.runtime.pipeline.Pipeline` that
holds one configured set of them."""

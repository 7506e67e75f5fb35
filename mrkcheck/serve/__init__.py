"""A generic AWS JSON 1.1 protocol front end (``X-Amz-Target`` in, ``{"__type", "message"}``
errors out) for a service given as an :class:`~mrkcheck.serve.json_protocol.JsonService`.

It knows nothing of KMS: the operations, their answers and their errors come from the service
object the caller passes (the KMS one is :mod:`mrkcheck.traces.kms_service`)."""
